/* SPDX-License-Identifier: MIT */
/*
 * netns.h - creating sockets inside other network namespaces
 *
 * A socket keeps the network namespace it was created in. netns_socket() enters the target
 * namespace on the calling thread, creates the socket, and comes straight back; if coming back
 * fails the process aborts, because it must never keep running inside a container's namespace.
 * netns_init() opens our own namespace once, at start-up.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/**
 * netns_init() - Open the calling thread's network namespace for later returns
 *
 * Return: 0, or a negative errno
 */
int netns_init(void);

/**
 * netns_socket() - Create a socket in a network namespace
 * @nsfd:	namespace fd, or -1 for our own namespace
 * @domain, @type, @protocol:	as socket(2); SOCK_CLOEXEC is always added
 *
 * Return: the new fd, or a negative errno (-EPERM without CAP_SYS_ADMIN)
 */
int netns_socket(int nsfd, int domain, int type, int protocol);

/**
 * netns_open_named() - Open an iproute2 named namespace (/run/netns/NAME)
 * @name:	validated name (no '/')
 *
 * Return: an O_CLOEXEC fd, -ENOENT if there is no such namespace, -EMEDIUMTYPE if the file is
 * not a mounted namespace (added in another mount namespace), or a negative errno
 */
int netns_open_named(const char *name);

/**
 * netns_open_pid() - Open the network namespace of a process (/proc/PID/ns/net)
 *
 * Return: an O_CLOEXEC fd, or a negative errno (-ESRCH/-ENOENT if the process is gone)
 */
int netns_open_pid(pid_t pid);

/**
 * netns_same() - Whether two namespace fds (or -1 for ours) name the same namespace
 */
bool netns_same(int a, int b);
