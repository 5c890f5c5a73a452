/* SPDX-License-Identifier: MIT */
/*
 * head-peer.c - the peer-link head: a segment whose connections arrive as streams on a peer link
 *
 * A segment created by a peer daemon for its `remote` word has no listener: each connection made
 * to the creator's segment becomes a stream "/data/<id>" on the link between the two daemons,
 * and the peer server (wormholed/peer.c) hands it here. From conn_accept() on, it is a
 * connection like any other: trigger, tail, relay (a buffered one, since one end is a stream).
 * The stream's request names the original client ("wormhole-client", h2-link.h): it becomes the
 * connection's client address, so the log line here shows who connected on the creator's side,
 * and a next hop gets it in turn.
 */
#include <errno.h>
#include <sys/socket.h>

#include "conn.h"
#include "h2-link.h"
#include "head.h"
#include "log.h"
#include "segment.h"
#include "sockaddr.h"
#include "stream.h"

static int peer_start(struct segment *s, char **ret_error)
{
	s->head_peer_on = true;
	return 0;
}

static void peer_stop(struct segment *s)
{
	s->head_peer_on = false;
}

static bool peer_active(const struct segment *s)
{
	return s->head_peer_on;
}

const struct head_ops head_peer_ops = {
	.kind = "peer",
	.start = peer_start,
	.stop = peer_stop,
	.active = peer_active,
};

int head_peer_accept(struct segment *s, struct stream *st, const char *from)
{
	union sockaddr_union sa = { 0 };
	socklen_t salen = 0;
	const char *client;

	if (s->head_ops != &head_peer_ops)
		return -ENOENT;
	if (!s->head_peer_on || s->head.down)
		return -ECONNREFUSED;
	/* the original client, as the creator's side saw it: the connection's client address
	 * (its log line, and whatever hands it on: another `remote`, a PROXY header) */
	client = h2_link_stream_client(st);
	if (client && sockaddr_parse_ip(client, &sa, &salen) < 0) {
		log_debug("segment '%s': peer %s sent a bad client address, ignoring", s->id, from);
		salen = 0;
	}
	log_debug("segment '%s': a stream from peer %s for client %s", s->id, from,
		  salen ? client : "(unknown)");
	conn_accept(s, RELAY_END_STREAM(st), salen ? &sa.sa : NULL, salen);
	return 0;
}
