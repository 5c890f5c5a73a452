/* SPDX-License-Identifier: MIT */
/*
 * stream.h - a connected byte stream that is not a kernel socket: the second kind of endpoint
 *
 * A connection has two ends. Most are sockets (struct relay_end.fd) and relay with splice(2).
 * The others are user-space streams: a stream on a multiplexed, encrypted peer link, a TLS
 * session, a test's in-memory pipe. A stream is a small vtable, implemented by whoever produces
 * the bytes (the producer), and driven by one consumer (a relay):
 *
 *  - the consumer calls read()/write()/shutdown_write() whenever it likes; -EAGAIN means "not now";
 *  - the producer calls stream_wake() whenever something may have changed after an -EAGAIN (data
 *    arrived, window opened, EOF or an error came in). Spurious wakes are fine, missed ones are
 *    not: a producer that returned -EAGAIN must wake the consumer later. stream_wake() may be
 *    called from inside read()/write() (the consumer must cope: it defers its work);
 *  - free() is called once, by the owner (the consumer after relay_free()), and releases
 *    everything; the producer must not call stream_wake() afterwards.
 *
 * Ownership: a struct stream handed to relay_new() (in a struct relay_end) belongs to the relay
 * on success only.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stream;

struct stream_ops {
	const char *kind; /* "socket", "peer", "tls", ... for logs */
	/* >0 bytes read, 0 at EOF (for good), -EAGAIN, or a negative errno (the stream broke) */
	ssize_t (*read)(struct stream *st, void *buf, size_t len);
	/* >0 bytes taken (may be fewer than @len), -EAGAIN, or a negative errno */
	ssize_t (*write)(struct stream *st, const void *buf, size_t len);
	/* no more writes: the peer reads EOF once what was written is delivered. 0 or -errno */
	int (*shutdown_write)(struct stream *st);
	/*
	 * Optional, zero-copy reading: peek() shows the bytes readable now where they lie (>0, at
	 * *ret_ptr; 0 at EOF; -EAGAIN; a negative errno) and takes nothing; consume(@n) then takes
	 * the first @n of them (@n <= what peek() returned), as read() would have. Both or neither.
	 */
	ssize_t (*peek)(struct stream *st, const void **ret_ptr);
	void (*consume)(struct stream *st, size_t n);
	/*
	 * Optional, zero-copy writing: reserve() lends room in the stream's own send buffer (>0
	 * bytes at *ret_ptr; -EAGAIN while full, then the stream wakes the consumer once there is
	 * room; a negative errno as write()), and every reserve() is followed by one commit(@n):
	 * the first @n bytes of the room are written, as write() would have taken them (@n may be
	 * 0: nothing written, the room is given back). Both or neither.
	 */
	ssize_t (*reserve)(struct stream *st, void **ret_ptr);
	void (*commit)(struct stream *st, size_t n);
	void (*free)(struct stream *st);
};

/* Embedded at the start of (or anywhere in) the producer's own struct. */
struct stream {
	const struct stream_ops *ops;
	/* set by the consumer; NULL while nobody consumes */
	void (*wake)(struct stream *st, void *userdata);
	void *wake_userdata;
};

/**
 * stream_wake() - The producer tells the consumer to try again (see above)
 */
static inline void stream_wake(struct stream *st)
{
	if (st->wake)
		st->wake(st, st->wake_userdata);
}

/**
 * stream_free() - Free @st through its ops (NULL is fine). Return: NULL
 */
static inline struct stream *stream_free(struct stream *st)
{
	if (st)
		st->ops->free(st);
	return NULL;
}

/**
 * struct relay_end - one end of a connection: a connected, non-blocking stream socket (@fd >= 0,
 * @stream NULL) or a user-space stream (@fd < 0, @stream set)
 */
struct relay_end {
	int fd;
	struct stream *stream;
};

#define RELAY_END_FD(f)	     ((struct relay_end){ .fd = (f), .stream = NULL })
#define RELAY_END_STREAM(st) ((struct relay_end){ .fd = -EBADF, .stream = (st) })

/**
 * relay_end_close() - Close the socket (plain close()) or stream_free() the stream @e holds, for
 * an end the caller still owns (e.g. after relay_new() failed); leaves @e empty (NULL is fine)
 */
void relay_end_close(struct relay_end *e);
