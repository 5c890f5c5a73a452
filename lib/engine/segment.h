/* SPDX-License-Identifier: MIT */
/*
 * segment.h - segments: one proxy hop from a head (where it listens) to a tail (where it connects)
 *
 * A segment is created from one struct spec_seg: its init words run in order (each through its
 * chain op, lib/engine/runner.h), then the head starts yielding connections (head.h: a listener
 * today) and, without trigger words, the tail is completed (tail.h: defaults, address). With
 * trigger words the segment is "armed": the first inbound connection runs them once, connections
 * arriving meanwhile wait for the same run, and a failed run closes the waiting connections,
 * undoes what it applied and re-arms. Every step taken is recorded so a failure at any point, or
 * segment_free(), undoes exactly what was done, in reverse.
 *
 * States (segment_set_state() logs every change at debug level, by name):
 *
 *   CREATING --init words done, head up--> LISTENING            (no trigger words)
 *   CREATING --init words done, head up--> ARMED --1st conn--> TRIGGERING --ok--> LISTENING
 *                                            ^                      |
 *                                            +-------failed---------+
 *
 * Files: segment.c (this: create, free, registry, trigger), endpoint.c, runner.c (words and
 * undo), conn.c (connections and UDP sessions), head-listen.c (the listener head), tail-socket.c
 * (the socket tail), containers.c (following containers).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "endpoint.h"
#include "engine.h"
#include "list.h"
#include "sockaddr.h"

struct conn;
struct container_watch;
struct head_ops;
struct runner;
struct spec;
struct spec_seg;
struct tail_ops;
struct udp_session;

enum segment_state {
	SEGMENT_CREATING,
	SEGMENT_LISTENING,
	SEGMENT_ARMED,
	SEGMENT_TRIGGERING,
};

/**
 * segment_created_fn - outcome of an asynchronous segment_create()
 * @s:		the new segment (registered), or NULL on failure
 * @r:		0 or a negative errno
 * @error:	on failure, a malloc'ed message; ownership passes to the callback
 */
typedef void (*segment_created_fn)(struct segment *s, int r, char *error, void *userdata);

struct applied {
	const struct chain_op *op;
	void *state;
	bool trig; /* taken by the trigger run */
};

struct segment {
	struct daemon *d;
	char *id;
	struct segment *parent; /* the segment whose child/chain word made this one */
	struct segment *prev, *next;
	bool registered;
	struct spec *spec; /* owned by the top segment */
	const struct spec_seg *sseg;
	struct endpoint head, tail;
	struct endpoint tail_saved; /* the tail before a trigger run, restored if it fails */
	enum segment_state state;
	bool tail_ready;

	/* the head: what yields connections (head.h); a word may replace the default listener */
	const struct head_ops *head_ops;
	struct head_listen *listen; /* the listener head's state */
	struct udp_relay *udp;	    /* a udp head's sessions */

	/* the tail: how a connection to it is opened (tail.h); a word may replace the default */
	const struct tail_ops *tail_ops;
	union sockaddr_union tail_sa; /* the socket tail's address, once completed */
	socklen_t tail_salen;

	struct applied *applied;
	size_t n_applied;
	struct runner *runner;		    /* a word list being applied */
	struct container_watch *head_watch; /* a head inherited inside a container (child) */
	segment_created_fn create_cb;	    /* an asynchronous creation reports here */
	sd_event_source *retrigger_src;	    /* a restore runs a trigger that had run */
	void *create_userdata;

	struct conn *conns; /* all TCP connections, waiting or relaying */
	struct udp_session **udp_waiting;
	size_t n_udp_waiting;
	uint64_t conns_active, conns_total;
	uint64_t bytes_in_closed, bytes_out_closed;
};

/**
 * segment_create() - Create a segment (and, through its link words, its descendants)
 * @d:		the daemon (borrowed)
 * @id:		the id, or NULL to generate one (copied)
 * @spec:	the top segment's spec; ownership passes to the segment when 0 or 1 is returned
 *		(a pending creation that fails later frees it); NULL for children, whose words
 *		live in their top segment's spec
 * @sseg:	the words of this segment (borrowed from the spec)
 * @head_init:	the head to start from (a child starts as its parent's tail; copied), or NULL
 * @parent:	the parent segment, or NULL
 * @cb, @userdata: completion, only when 1 is returned
 * @ret:	on 0, the new segment
 * @ret_error:	on failure, a malloc'ed message
 *
 * Return: 0 created (@cb not called), 1 pending (@cb called later), or a negative errno; on
 * failure nothing is left behind.
 */
int segment_create(struct daemon *d, const char *id, struct spec *spec, const struct spec_seg *sseg,
		   const struct endpoint *head_init, struct segment *parent, segment_created_fn cb,
		   void *userdata, struct segment **ret, char **ret_error);

/**
 * segment_free() - Stop the head, close every connection, undo every applied word (deleting
 * children, containers), unregister. NULL is fine. Return: NULL
 */
struct segment *segment_free(struct segment *s);

/**
 * segment_find() - Return: the registered segment with @id, or NULL
 */
struct segment *segment_find(struct daemon *d, const char *id);

/**
 * segment_head_url() / segment_tail_url() - Format for display ("tcp://ns@127.0.0.1:9000").
 * @with_ns:	include "ns@" (list) or not (the create reply, as the original printed it)
 * Return: malloc'ed string or NULL on ENOMEM
 */
char *segment_head_url(const struct segment *s, bool with_ns);
char *segment_tail_url(const struct segment *s);

/**
 * segment_state_name() - Return: "creating", "listening", "armed", "triggering"
 */
const char *segment_state_name(enum segment_state st);

/**
 * segment_set_state() - Move @s to @st, logged at debug level ("segment 'web': armed ->
 * triggering") so a trace reads like the diagram above
 */
void segment_set_state(struct segment *s, enum segment_state st);

/**
 * segment_bytes() - Bytes moved by finished and live connections
 */
void segment_bytes(const struct segment *s, uint64_t *ret_in, uint64_t *ret_out);

/**
 * segment_endpoint_set_down() - The container of @e (the head or tail of @s) stopped or runs
 * again: a head stops listening or listens again (same address, new namespace); a tail
 * refuses new connections while down
 */
void segment_endpoint_set_down(struct segment *s, struct endpoint *e, bool down);

/**
 * segment_top() - Return: the top segment of the chain @s belongs to
 */
struct segment *segment_top(struct segment *s);

/**
 * segment_trigger() - Run the trigger words (for the engine's connection code, when the first
 * connection arrives at an armed segment); waiting connections are served or closed when it ends
 */
void segment_trigger(struct segment *s);
