/* SPDX-License-Identifier: MIT */
/*
 * test-netns.c - sockets created through netns_socket() live in the namespace they were made in,
 * and the calling thread comes back to its own namespace every time
 *
 * A forked child unshares a fresh network namespace (whose loopback is down) and waits; we open
 * it through /proc/PID/ns/net. 127.0.0.1 is routable in our namespace (lo up after our own
 * unshare) and unreachable in the child's, which proves where a socket was made.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cleanup.h"
#include "netns.h"

static pid_t child = -1;
static int child_ns = -EBADF;

static int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(fd, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

/* A UDP "connect" only needs a route: 127.0.0.1 has one only where lo is up. */
static int route_loopback(int fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(9),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
}

static int setup(void **state)
{
	int p[2];
	char c;

	if (pipe(p) < 0)
		return -1;
	child = fork();
	if (child < 0)
		return -1;
	if (child == 0) {
		close(p[0]);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		(void)!write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		return -1;
	close(p[0]);
	child_ns = netns_open_pid(child);
	return child_ns < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	child_ns = safe_close(child_ns);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	return 0;
}

static void test_socket_in_other_namespace(void **state)
{
	_cleanup_close_ int here = -EBADF, there = -EBADF, again = -EBADF;

	here = netns_socket(-1, AF_INET, SOCK_DGRAM, 0);
	assert_true(here >= 0);
	assert_int_equal(route_loopback(here), 0);

	there = netns_socket(child_ns, AF_INET, SOCK_DGRAM, 0);
	assert_true(there >= 0);
	assert_int_equal(route_loopback(there), -ENETUNREACH); /* lo is down over there */

	/* and we are back home: a plain socket binds loopback again */
	again = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(again >= 0);
	assert_int_equal(route_loopback(again), 0);
}

static void test_socket_is_cloexec(void **state)
{
	_cleanup_close_ int fd = netns_socket(child_ns, AF_INET6, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static void test_same(void **state)
{
	_cleanup_close_ int self = netns_open_pid(getpid());

	assert_true(self >= 0);
	assert_true(netns_same(-1, -1));
	assert_true(netns_same(self, -1));
	assert_false(netns_same(child_ns, -1));
	assert_true(netns_same(child_ns, child_ns));
}

static void test_open_errors(void **state)
{
	assert_int_equal(netns_open_named("wh-no-such-netns-for-sure"), -ENOENT);
	assert_true(netns_open_pid(0x7ffffff0) == -ENOENT || netns_open_pid(0x7ffffff0) == -ESRCH);
	assert_int_equal(netns_socket(child_ns, 12345, SOCK_DGRAM, 0), -EAFNOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_in_other_namespace),
		cmocka_unit_test(test_socket_is_cloexec),
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_open_errors),
	};

	if (unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: cannot unshare a network namespace: %s\n", strerror(errno));
		return 77;
	}
	if (lo_up() < 0 || netns_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
