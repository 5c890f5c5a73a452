/* SPDX-License-Identifier: MIT */
/*
 * head.h - a segment's head: what yields its connections
 *
 * Today a head is a socket the daemon binds and listens on (head-listen.c: TCP, unix, and UDP
 * through lib/net/udp-relay). Later kinds, an inherited systemd listener (`url fd:NAME`) and
 * streams arriving on a peer link, implement the same ops; a word selects its kind by setting
 * s->head_ops in its apply(). However connections are produced, they enter the engine through
 * conn_accept() (conn.h), which owns them from there on.
 */
#pragma once

#include <stdbool.h>

struct segment;

struct head_ops {
	const char *kind; /* "listen", ... for logs */
	/* start yielding connections; fills the head's defaults (and its real port); 0 or -errno
	 * with *ret_error set. Called at creation, and again when a container comes back. */
	int (*start)(struct segment *s, char **ret_error);
	/* stop yielding connections (open ones stay); idempotent, safe on a half-started head */
	void (*stop)(struct segment *s);
	/* whether it yields connections now */
	bool (*active)(const struct segment *s);
};

/* The default head: bind and listen on s->head (TCP, unix, UDP), inside its namespace. */
extern const struct head_ops head_listen_ops;

/* A listener the service manager passed under s->head.fd_name (`url fd:NAME`, head-fd.c). */
extern const struct head_ops head_fd_ops;

/**
 * head_listen_adopt() - Serve connections from an already bound socket (for head-fd.c)
 * @s:		the segment; s->head.proto says how (udp: a datagram relay)
 * @fd:		the socket, listening unless udp; ownership passes to @s, also on failure
 * @ret_error:	on failure, a malloc'ed message
 *
 * The socket file of a unix listener adopted this way is never unlinked.
 * Return: 0 or a negative errno
 */
int head_listen_adopt(struct segment *s, int fd, char **ret_error);

/* Connections arriving as streams on a peer link ("/data/<segment id>"): nothing is bound; the
 * daemon's peer server hands each stream to head_peer_accept(). */
extern const struct head_ops head_peer_ops;

struct sockaddr;
struct stream;

/**
 * head_peer_accept() - A stream arrived on a peer link for @s
 * @st:		ownership passes to the engine on 0 only
 * @from:	the peer's address, for the log (borrowed)
 * @client, @client_len: the original client's address, when the stream carried it (NULL, 0:
 *		unknown); it stands for the client in logs and in a PROXY header
 *
 * A UDP segment's streams carry datagrams in frames (dgram-stream.h); each is one session.
 *
 * Return: 0, -ENOENT (@s has no peer head), -ECONNREFUSED (not taking connections now)
 */
int head_peer_accept(struct segment *s, struct stream *st, const char *from,
		     const struct sockaddr *client, unsigned client_len);
