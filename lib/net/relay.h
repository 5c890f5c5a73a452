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
 */
#pragma once

#include <stdint.h>

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
 * @r:		the relay, its sockets closed already; the callback may relay_free() it
 * @error:	0 when both directions ended with EOF, else a negative errno
 * @reason:	static text: "done", "client reset", "backend reset", ...
 * @userdata:	as given to relay_new()
 */
typedef void (*relay_done_fn)(struct relay *r, int error, const char *reason, void *userdata);

/**
 * relay_new() - Start relaying between two connected, non-blocking stream sockets
 * @l:		the data path's ioloop (borrowed)
 * @pool:	pipe pool (borrowed, must outlive the relay)
 * @client_fd:	the accepted socket; ownership passes to the relay on success only
 * @backend_fd:	the connected socket to the tail (may come registered in @l from a connector);
 *		ownership passes on success only
 * @done:	completion callback
 * @userdata:	passed to @done
 * @ret:	the relay on success only
 *
 * @done is never called from inside relay_new().
 *
 * Return: 0, -ENOMEM, or a negative errno from epoll_ctl()
 */
int relay_new(struct ioloop *l, struct pipe_pool *pool, int client_fd, int backend_fd,
	      relay_done_fn done, void *userdata, struct relay **ret);

/**
 * relay_free() - Close both sockets (unless done did), return any borrowed pipe
 * (NULL is fine; @done is not called). Return: NULL
 */
struct relay *relay_free(struct relay *r);

/**
 * relay_bytes() - Bytes moved so far, updated live
 * @ret_up:	client -> backend
 * @ret_down:	backend -> client
 */
void relay_bytes(const struct relay *r, uint64_t *ret_up, uint64_t *ret_down);
