/* SPDX-License-Identifier: MIT */
/*
 * relay.h - the TCP/stream data path: relay bytes between two connected sockets
 *
 * Each direction reads small amounts with read()/write() (a copy is cheaper than splice for small
 * messages) and moves bulk data with splice(2) through a pipe borrowed from a shared pool only
 * while bytes are in flight, so an idle relay holds exactly its two sockets. EOF on one side is
 * passed on with shutdown(SHUT_WR) on the other while the reverse direction keeps flowing; the
 * relay is done when both directions reached EOF, or at the first error. Works for any pair of
 * stream sockets (TCP/IPv4/IPv6/unix). Relays run on an ioloop (lib/ioloop.h): edge-triggered,
 * a batch of events per wakeup, no event source of their own.
 *
 * Either end may instead be a user-space stream (lib/net/stream.h: a stream on a peer link, TLS,
 * a test's in-memory pipe). A relay with at least one such end is a buffered relay
 * (stream-relay.c): a bounded buffer per direction, the same half-close, completion and counter
 * semantics, and no splice. Which kind a relay is stays inside relay_new(); the socket/socket
 * path is exactly the splice relay described above.
 */
#pragma once

#include <stdint.h>

#include "stream.h"

struct ioloop;
struct pipe_pool;
struct relay;

/**
 * pipe_pool_new() - A pool of pipes for splice()
 * @max_idle:	how many empty pipes to keep for reuse; more are closed when returned
 * @ret:	the pool on success only; free with pipe_pool_free()
 *
 * Return: 0, -ENOMEM
 */
int pipe_pool_new(unsigned max_idle, struct pipe_pool **ret);

/**
 * pipe_pool_free() - Close every idle pipe and free @p (NULL is fine). Return: NULL
 * Must only be called once no relay uses @p any more.
 */
struct pipe_pool *pipe_pool_free(struct pipe_pool *p);

/**
 * pipe_pool_idle() - Return: the number of idle pipes held (for tests)
 */
unsigned pipe_pool_idle(const struct pipe_pool *p);

/**
 * relay_done_fn - called once, when the relay finished
 * @r:		the relay, its ends closed (streams freed) already; the callback may relay_free() it
 * @error:	0 when both directions ended with EOF, else a negative errno
 * @reason:	static text: "done", "client reset", "backend reset", ...
 * @userdata:	as given to relay_new()
 */
typedef void (*relay_done_fn)(struct relay *r, int error, const char *reason, void *userdata);

/**
 * relay_new() - Start relaying between two connected endpoints
 * @l:		the data path's ioloop (borrowed)
 * @pool:	pipe pool (borrowed, must outlive the relay); only socket/socket relays use it, the
 *		others accept NULL
 * @client:	the accepted end: a non-blocking stream socket or a stream (stream.h); ownership
 *		passes to the relay on success only
 * @backend:	the connected end to the tail (a socket may come registered in @l from a
 *		connector); ownership passes on success only
 * @done:	completion callback
 * @userdata:	passed to @done
 * @ret:	the relay on success only
 *
 * Two sockets relay with splice (the fast path); any other pair through a bounded user-space
 * buffer per direction. A stream end gets its wake callback set by the relay and must not be
 * driven by anyone else while the relay owns it. @done is never called from inside relay_new().
 *
 * Return: 0, -EINVAL (an end is neither or both kinds), -ENOMEM, or a negative errno from
 * epoll_ctl()
 */
int relay_new(struct ioloop *l, struct pipe_pool *pool, struct relay_end client,
	      struct relay_end backend, relay_done_fn done, void *userdata, struct relay **ret);

/**
 * relay_free() - Close both ends (sockets closed, streams freed, unless done did), return any
 * borrowed pipe or buffer (NULL is fine; @done is not called). Return: NULL
 */
struct relay *relay_free(struct relay *r);

/**
 * relay_bytes() - Bytes moved so far, updated live
 * @ret_up:	client -> backend
 * @ret_down:	backend -> client
 */
void relay_bytes(const struct relay *r, uint64_t *ret_up, uint64_t *ret_down);
