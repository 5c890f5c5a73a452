/* SPDX-License-Identifier: MIT */
/*
 * tail.h - a segment's tail: how one connection to it is opened
 *
 * A tail hands back a connected end (struct relay_end, lib/net/stream.h): a socket today
 * (tail-socket.c: a non-blocking connect in the tail's namespace, retried while refused), a stream
 * on a peer link later. The relay takes either kind, so the connection code (conn.c) never knows
 * which one it got. A word selects a tail kind by setting the ops of its tail (s->tail.ops) in its apply().
 *
 * Ownership: open() starts an attempt and returns a handle the caller keeps until @done is called
 * (then the handle is gone) or until it calls cancel(handle) (then @done is never called).
 * The end passed to @done belongs to the callee of @done.
 */
#pragma once

#include "stream.h"

struct segment;
struct segment_tail;

/**
 * tail_opened_fn - outcome of one open
 * @r:		0, or a negative errno (-ETIMEDOUT: the target refused until the connect timeout)
 * @end:	on 0, the connected end; ownership passes to the callback
 */
typedef void (*tail_opened_fn)(void *userdata, int r, struct relay_end end);

/* Every op acts on one tail @t of segment @s (segment.h: most segments have one, s->tail; a
 * segment that routes has several, segment_tail_nth()). */
struct tail_ops {
	const char *kind; /* "socket", ... for logs */
	/* the tail's words are done: fill defaults, resolve, refuse a tail that is the head
	 * itself. 0 or -errno with *ret_error set */
	int (*complete)(struct segment *s, struct segment_tail *t, char **ret_error);
	/* open a stream connection: 0 with *ret_handle (done comes later, never from inside), or
	 * -errno (done is not called) */
	int (*open)(struct segment *s, const struct segment_tail *t, tail_opened_fn done,
		    void *userdata, void **ret_handle);
	void (*cancel)(void *handle);
	/* a connected datagram socket for one UDP session: fd or -errno; NULL: no UDP */
	int (*open_dgram)(struct segment *s, const struct segment_tail *t);
};

/* The default tail: a socket to the tail's address, in its namespace. */
extern const struct tail_ops tail_socket_ops;

struct peer;

/* The peer tail: each connection is a new stream on the link to a peer daemon, for the remote
 * segment there (chains/remote.c sets it up). s->tail.data points to a struct tail_peer. */
extern const struct tail_ops tail_peer_ops;

/**
 * tail_peer_open_stream() - A stream to @p for @path ("/data/<id>"), carrying the client of the
 * connection being opened (d->opening_client) so that the far end knows it (PROXY headers, logs)
 * @ret:	on success only, the caller's
 * Return: 0 or a negative errno from peer_open()
 */
int tail_peer_open_stream(struct segment *s, struct peer *p, const char *path, struct stream **ret);

struct peer_dgram;

struct tail_peer {
	struct peer *peer;	   /* borrowed from the word's state */
	char *path;		   /* "/data/<remote segment id>" */
	struct peer_dgram *dgrams; /* UDP sessions' bridges (tail-peer.c) */
};

/**
 * tail_peer_close_dgrams() - End the UDP sessions' bridges of @tp (their peer streams are
 * reset; the UDP head's sessions end on their own)
 */
void tail_peer_close_dgrams(struct tail_peer *tp);
