/* SPDX-License-Identifier: MIT */
/*
 * connector.h - non-blocking connect to a tail, retried while the target refuses
 *
 * A container or a backend that is just starting refuses connections for a while. The connector
 * creates the socket in the tail's namespace (netns_socket()), connects without blocking, and on
 * ECONNREFUSED (or ENOENT for a unix socket not created yet) tries again with a fresh socket after a
 * short delay, until the deadline. Any other error ends it at once.
 */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

struct connector;
struct ioloop;

/**
 * connector_done_fn - called once with the outcome
 * @c:		the connector; the callback may connector_free() it
 * @fd:		the connected, non-blocking socket (ownership passes to the callback), or a negative
 *		errno (-ETIMEDOUT when the deadline passed while the target refused). The socket may
 *		still be registered in the ioloop with no watch: relay_new() takes it over with
 *		EPOLL_CTL_MOD; if it is closed instead, close() removes it.
 */
typedef void (*connector_done_fn)(struct connector *c, int fd, void *userdata);

/**
 * connector_new() - Start connecting
 * @l:		the data path's ioloop (borrowed)
 * @nsfd:	namespace to create the socket in, -1 for ours (borrowed; must stay open until done)
 * @sa, @salen:	target address (copied)
 * @socktype:	SOCK_STREAM or SOCK_DGRAM (a UDP "connect" completes at once)
 * @timeout_usec: total time allowed for retries
 * @done, @userdata: completion callback
 * @ret:	the connector on success only
 *
 * @done is never called from inside connector_new().
 *
 * Return: 0, -ENOMEM, -EINVAL
 */
int connector_new(struct ioloop *l, int nsfd, const struct sockaddr *sa, socklen_t salen,
		  int socktype, uint64_t timeout_usec, connector_done_fn done, void *userdata,
		  struct connector **ret);

#define CONNECTOR_NO_RETRY 1u /* a refusal ends at once with -ECONNREFUSED (nothing is starting) */

/**
 * connector_new_flags() - connector_new() with @flags (CONNECTOR_NO_RETRY); @timeout_usec then
 * still bounds a connect that hangs (no answer at all)
 */
int connector_new_flags(struct ioloop *l, int nsfd, const struct sockaddr *sa, socklen_t salen,
			int socktype, uint64_t timeout_usec, unsigned flags, connector_done_fn done,
			void *userdata, struct connector **ret);

/**
 * connector_free() - Cancel and free (NULL is fine). Return: NULL
 */
struct connector *connector_free(struct connector *c);
