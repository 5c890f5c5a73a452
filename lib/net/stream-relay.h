/* SPDX-License-Identifier: MIT */
/*
 * stream-relay.h - private to relay.c: the buffered relay for pairs that are not two sockets
 *
 * relay.c owns the public struct relay; when either end is a user-space stream, relay_new() gives
 * the work to a struct stream_relay and keeps a pointer to it, so the socket/socket relay stays
 * untouched. The stream relay reports through the public relay_done_fn with the owning relay.
 */
#pragma once

#include <stdint.h>

#include "relay.h"
#include "stream.h"

struct ioloop;
struct stream_relay;

/**
 * stream_relay_new() - Start a buffered relay between @client and @backend
 * @l:		the data path's ioloop (borrowed)
 * @owner:	the public relay handed to @done (borrowed; it owns the result)
 * @client:	a socket or stream; ownership passes on success only
 * @backend:	a socket (may come registered from a connector) or stream; ownership passes on
 *		success only
 * @done:	called once, with @owner, after both ends were closed; never from inside this call
 * @userdata:	passed to @done
 * @ret:	the stream relay on success only; free with stream_relay_free()
 *
 * A socket end is wrapped in a stream_socket (stream-socket.h).
 *
 * Return: 0, -EINVAL, -ENOMEM, or a negative errno from epoll_ctl()
 */
int stream_relay_new(struct ioloop *l, struct relay *owner, struct relay_end client,
		     struct relay_end backend, relay_done_fn done, void *userdata,
		     struct stream_relay **ret);

/**
 * stream_relay_free() - Free both ends (unless done did) and the buffers; @done is not called
 * (NULL is fine). Return: NULL
 */
struct stream_relay *stream_relay_free(struct stream_relay *sr);

/**
 * stream_relay_bytes() - As relay_bytes(): bytes delivered to each sink so far
 */
void stream_relay_bytes(const struct stream_relay *sr, uint64_t *ret_up, uint64_t *ret_down);

/**
 * relay_error_reason() - The reason text for error @e (positive errno) on end @side
 * @side:	0 client, 1 backend
 *
 * Return: static text: "client reset", "backend error", ...
 */
const char *relay_error_reason(unsigned side, int e);
