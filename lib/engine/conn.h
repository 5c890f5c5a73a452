/* SPDX-License-Identifier: MIT */
/*
 * conn.h - the connections of a segment: from the head, through the trigger, to the tail
 *
 * A head hands each inbound connection to conn_accept(). The connection then moves through named
 * states, each change logged at debug level ("segment 'web' conn 12: connecting -> relaying"):
 *
 *   WAITING (for the segment's trigger) --trigger ok--> CONNECTING --tail open--> RELAYING
 *   (conn_accept) -----------------------------------> CONNECTING
 *   (conn_accept) --routing segment--> PEEKING --ClientHello read, tail picked--> CONNECTING
 *                                         (no tail for it, nothing within 5 s: closed)
 *   any state --error, trigger failed, segment deleted--> closed: one log line, freed
 *
 * The tail is opened through its ops (s->tail.ops, or the routed tail's) and the relay (lib/net/relay.h) takes whichever kind
 * of end each side is. UDP heads hand their sessions here too (conn_udp_ops): a session asks
 * the tail for a connected datagram socket, or waits for the trigger like a connection does.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stream.h"
#include "udp-relay.h"

struct segment;

/**
 * conn_accept() - A new inbound connection for @s
 * @client:	its end; ownership passes to the engine (closed on any failure)
 * @sa, @salen:	the client's address (copied), for the log
 */
void conn_accept(struct segment *s, struct relay_end client, const struct sockaddr *sa,
		 socklen_t salen);

/**
 * conn_admit() - May @s take one more connection or UDP session now? Its fair share of the
 * daemon's descriptors and --max-conns decide (conn.c explains the rule). Return: true if so
 */
bool conn_admit(const struct segment *s);

/**
 * conn_refused() - Count a connection (or a new UDP client) @s refused, and log it, at most one
 * line per 10 s per segment
 * @client:	who was refused, for the log (borrowed)
 */
void conn_refused(struct segment *s, const char *client);

/**
 * conn_trigger_done() - The trigger of @s ended: serve the waiting connections and sessions
 * (@r == 0) or close them with @reason
 */
void conn_trigger_done(struct segment *s, int r, const char *reason);

/**
 * conn_count_waiting() - Return: connections and UDP sessions waiting for the trigger
 */
unsigned conn_count_waiting(const struct segment *s);

/**
 * conn_free_all() - Close every connection of @s (segment deleted)
 */
void conn_free_all(struct segment *s, const char *reason);

/**
 * conn_bytes_live() - Add the bytes of @s's open connections to *@in and *@out
 */
void conn_bytes_live(const struct segment *s, uint64_t *in, uint64_t *out);

/* One TCP connection as `wormhole show` lists it (strings valid during the callback only). */
struct conn_info {
	uint64_t id;
	const char *state;   /* "waiting", "connecting", "relaying", ... */
	const char *client;  /* "127.0.0.1:40022" */
	const char *tail;    /* the tail it goes to, "tcp://docker:db@172.17.0.2:3306" */
	uint64_t start_usec; /* CLOCK_MONOTONIC, when it was accepted */
	uint64_t bytes_in, bytes_out;
};

/**
 * conn_foreach() - Call @fn for each TCP connection of @s, oldest first (UDP sessions are not
 * listed); stops at the first negative return of @fn
 * Return: 0, what @fn returned, or -ENOMEM
 */
int conn_foreach(const struct segment *s, int (*fn)(const struct conn_info *ci, void *userdata),
		 void *userdata);

/* What a UDP head's relay calls for its sessions (userdata: the segment). */
extern const struct udp_relay_ops conn_udp_ops;
