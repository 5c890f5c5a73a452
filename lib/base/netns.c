/* SPDX-License-Identifier: MIT */
/*
 * netns.c - enter, create a socket, come back
 *
 * The window between the two setns() calls holds nothing but socket(): no allocation that could
 * create a thread, no logging, so nothing else ever runs inside a foreign namespace.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "netns.h"

static int netns_self_fd = -EBADF;

int netns_init(void)
{
	if (netns_self_fd >= 0)
		return 0;
	netns_self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (netns_self_fd < 0)
		return -errno;
	return 0;
}

int netns_socket(int nsfd, int domain, int type, int protocol)
{
	int fd, r = 0;

	if (nsfd < 0) {
		fd = socket(domain, type | SOCK_CLOEXEC, protocol);
		return fd < 0 ? -errno : fd;
	}
	if (netns_self_fd < 0) {
		r = netns_init();
		if (r < 0)
			return r;
	}
	if (setns(nsfd, CLONE_NEWNET) < 0)
		return -errno;
	fd = socket(domain, type | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		r = -errno;
	if (setns(netns_self_fd, CLONE_NEWNET) < 0)
		abort(); /* never keep running inside a container's netns */
	return r < 0 ? r : fd;
}

int netns_open_named(const char *name)
{
	char path[PATH_MAX];
	struct statfs sfs;
	int fd;

	if (snprintf(path, sizeof(path), "/run/netns/%s", name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* the file exists, but is it a namespace? A netns added in another mount namespace
	 * leaves an empty file here, and setns() on it would fail with a bare EINVAL later */
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != NSFS_MAGIC) {
		safe_close(fd);
		return -EMEDIUMTYPE;
	}
	return fd;
}

int netns_open_pid(pid_t pid)
{
	char path[64];
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int netns_stat(int fd, struct stat *st)
{
	if (fd < 0) {
		if (netns_self_fd < 0 && netns_init() < 0)
			return -1;
		fd = netns_self_fd;
	}
	return fstat(fd, st);
}

bool netns_same(int a, int b)
{
	struct stat sa, sb;

	if (a < 0 && b < 0)
		return true;
	if (netns_stat(a, &sa) < 0 || netns_stat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
