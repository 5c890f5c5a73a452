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
 *                                            ^  ^                   |  |
 *                                            |  +-------failed------+  | ok, with `idle TIME`
 *                                            |                         v
 *                   holds released (a con-   +------ STOPPING <-- RUNNING
 *                   nection waits: trigger)           no connection for TIME
 *
 * Scale to zero (`idle TIME`, segment_set_idle()): a triggered segment with an idle limit is
 * RUNNING; when its last connection ends an idle timer starts, and when it fires the trigger's
 * words are undone (runner_undo(s, true): a docker-run container is stopped and removed, or kept)
 * and the tail goes back to what it was before the trigger. Undoing may be asynchronous (a
 * container removal): an op takes a segment_hold for it and the segment stays STOPPING until
 * every hold is released, so the next container never overlaps the last one. Connections that
 * arrive while STOPPING wait, as they do while TRIGGERING; when the stop ends the segment is
 * ARMED, and runs the trigger at once if any connection waits.
 *
 * Files: segment.c (this: create, free, registry, trigger, restore), segment-tails.c (tails:
 * text, balance pick, SNI routing), segment-idle.c (scale to zero), endpoint.c, runner.c (words
 * and undo), conn.c (connections), conn-udp.c (UDP sessions), head-listen.c (the listener head),
 * tail-socket.c (the socket tail), containers.c (following containers).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <systemd/sd-event.h>

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

enum segment_balance {
	SEGMENT_BALANCE_LEAST_LOADED, /* the tail (provider) with the fewest open connections
				       * (streams); ties go round-robin (default) */
	SEGMENT_BALANCE_ROUND_ROBIN,
};

enum segment_state {
	SEGMENT_CREATING,
	SEGMENT_LISTENING,
	SEGMENT_ARMED,
	SEGMENT_TRIGGERING,
	SEGMENT_RUNNING,  /* triggered, with an idle limit */
	SEGMENT_STOPPING, /* the idle limit passed: the trigger's words are being undone */
};

/* Counters for metrics (wormholed --metrics): monotonic over the segment's life. */
#define SEGMENT_TRIGGER_BUCKETS 10
extern const double segment_trigger_buckets[SEGMENT_TRIGGER_BUCKETS]; /* seconds, ascending */

enum segment_fail {
	SEGMENT_FAIL_REFUSED,	/* the tail refused until the connect timeout */
	SEGMENT_FAIL_CONNECT,	/* another connect error */
	SEGMENT_FAIL_TAIL_DOWN, /* the tail's container was not running */
	SEGMENT_FAIL_TRIGGER,	/* the trigger failed */
	SEGMENT_FAIL_NO_ROUTE,	/* no tail for the connection (SNI routing) */
	_SEGMENT_FAIL_MAX,
};

struct segment_stats {
	uint64_t connect_failures[_SEGMENT_FAIL_MAX];
	uint64_t trigger_starts, trigger_failures;
	uint64_t trigger_bucket[SEGMENT_TRIGGER_BUCKETS]; /* cumulative is made when exported */
	uint64_t trigger_count;
	double trigger_sum; /* seconds */
	uint64_t container_starts, container_stops;
	uint64_t idle_stops;
};

/**
 * segment_fail_name() - Return: "refused", "connect", "tail_down", "trigger", "no_route"
 */
const char *segment_fail_name(enum segment_fail f);

struct segment_hold;
struct segment_kept;

/**
 * segment_created_fn - outcome of an asynchronous segment_create()
 * @s:		the new segment (registered), or NULL on failure
 * @r:		0 or a negative errno
 * @error:	on failure, a malloc'ed message; ownership passes to the callback
 */
typedef void (*segment_created_fn)(struct segment *s, int r, char *error, void *userdata);

/* One tail of a segment: where a connection may go. Most segments have one (s->tail); a segment
 * that routes by server name has several, each with its own endpoint, kind and address, and the
 * names it serves; a segment that balances has several that serve alike. */
struct segment_tail {
	struct endpoint ep;	    /* where it connects: the tail words act on it */
	const struct tail_ops *ops; /* how a connection to it is opened (tail.h) */
	union sockaddr_union sa;    /* the socket tail's address, once completed */
	socklen_t salen;
	void *data;   /* a tail kind's own state, set with @ops (tail-peer.c) */
	char **names; /* `sni NAME`: the server names (or "*.suffix") it serves; NULL: none */
	size_t n_names;
	/* connections routed or balanced to it (not counted for the one tail of a plain segment) */
	uint64_t conns_active; /* connecting or relaying */
	uint64_t conns_total;  /* opened */
	uint64_t failures;     /* opens that failed (a balancing segment tried the next tail) */
	uint64_t retry_usec;   /* down (its last open failed): skipped until then; 0: up */
};

/* How a connection picks its tail. */
enum segment_route {
	SEGMENT_ROUTE_ONE, /* the one tail, at once (no peek: the fast path) */
	SEGMENT_ROUTE_SNI, /* by the server name in the ClientHello; the unnamed tail is the default */
	SEGMENT_ROUTE_BALANCE, /* `balance` over several tails: segment_balance_pick() */
};

/* How long a balanced tail whose open failed is skipped by new connections (as the providers of
 * `remote H1,H2`, chains/remote.c) */
#define SEGMENT_TAIL_RETRY_USEC 2000000ULL

#define SEGMENT_PEEK_USEC	5000000ULL /* how long a ClientHello may take to arrive (5 s) */

/* What a restored segment had before the restart (the state file): its id, the port of an
 * ephemeral head, and whether its trigger had run. A restored top segment takes one for itself and
 * one for each descendant at its creation (the hooks answer only while the daemon boots); a child
 * created by its restoring parent takes the rest, however late its trigger creates it. */
struct segment_restore {
	char *id;
	uint16_t port;
	bool triggered;
};

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
	struct endpoint head;
	struct segment_tail tail;
	struct endpoint tail_saved; /* the tail before a trigger run, restored if it fails */
	enum segment_state state;
	bool tail_ready;

	/* the head: what yields connections (head.h); a word may replace the default listener */
	const struct head_ops *head_ops;
	struct head_listen *listen; /* the listener head's state */
	struct udp_relay *udp;	    /* a udp head's sessions */
	bool head_peer_on;	    /* the peer-link head (head-peer.c) takes streams */

	/* the tail: how a connection to it is opened (tail.h); a word may replace the default */
	const struct tail_ops *tail_ops;
	union sockaddr_union tail_sa; /* the socket tail's address, once completed */
	socklen_t tail_salen;
	void *tail_data;     /* a tail kind's own state, set with tail_ops (tail-peer.c) */
	bool proxy_protocol; /* `proxy-protocol`: a PROXY v2 header starts each tail connection */
	enum segment_balance balance; /* `balance`: how a connection picks a tail or a provider */
	unsigned balance_next;	      /* SEGMENT_ROUTE_BALANCE: the round-robin position */
	/* tail 0 is @tail (its endpoint is what the tail words and the trigger change); a
	 * segment that routes (`tail sni NAME ...`) or balances (`balance MODE tail ... tail ...`)
	 * has tails 1.. in @more_tails */
	struct segment_tail *more_tails;
	size_t n_tails;		  /* 1 + the extra ones */
	enum segment_route route; /* how a connection picks its tail */
	uint64_t peek_usec;	  /* SEGMENT_ROUTE_SNI: the ClientHello's time limit */

	struct applied *applied;
	size_t n_applied;
	struct runner *runner;		    /* a word list being applied */
	struct container_watch *head_watch; /* a head inherited inside a container (child) */
	segment_created_fn create_cb;	    /* an asynchronous creation reports here */
	sd_event_source *retrigger_src;	    /* a restore runs a trigger that had run */
	bool restore_counted; /* counted in d->restores_pending until its restore is done */
	bool restore_trigger; /* the trigger had run before the restart: it adopts when it runs */
	bool adopting;	      /* words now applied adopt the previous run's containers */
	struct segment_restore *restore; /* a restore: [0] this segment, [1..] its descendants;
					  * freed when its restore is done */
	size_t n_restore;
	void *create_userdata;

	struct conn *conns; /* all TCP connections, waiting or relaying */
	struct udp_session **udp_waiting;
	size_t n_udp_waiting;
	uint64_t conns_active, conns_total;
	uint64_t conns_refused;	   /* over the segment's limit or share (conn_admit()) */
	uint64_t refused_log_usec; /* when a refusal was last logged (one line per 10 s) */
	uint64_t refused_unlogged; /* refusals since */
	uint64_t bytes_in_closed, bytes_out_closed;

	/* scale to zero (`idle`) */
	uint64_t idle_usec;		       /* 0: never */
	bool idle_keep;			       /* stop what the trigger started, keep it */
	uint64_t idle_since;		       /* when the last connection ended */
	sd_event_source *idle_timer;	       /* fires at idle_since + idle_usec */
	struct endpoint tail_armed;	       /* the tail before the trigger, for the next run */
	const struct tail_ops *tail_ops_armed; /* the tail ops before the trigger */
	struct segment_hold *holds;	       /* asynchronous undos still running */
	struct segment_kept *kept;	       /* containers stopped and kept (`idle TIME,keep`) */
	size_t n_kept;
	uint64_t trigger_start_usec;

	struct segment_stats stats;
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
 * segment_create_with_head() - segment_create() with another head kind than the listener
 * @head_ops:	the head (head.h; static, borrowed): head_peer_ops for a segment whose
 *		connections arrive as streams on a peer link
 */
int segment_create_with_head(struct daemon *d, const struct head_ops *head_ops, const char *id,
			     struct spec *spec, const struct spec_seg *sseg,
			     const struct endpoint *head_init, struct segment *parent,
			     segment_created_fn cb, void *userdata, struct segment **ret,
			     char **ret_error);

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
 * segment_set_idle() - Set (or with @usec 0 clear) the idle limit of @s (the `idle` word)
 * @keep:	stop what the trigger started and keep it, instead of removing it
 */
void segment_set_idle(struct segment *s, uint64_t usec, bool keep);

/**
 * segment_idle_check() - A connection of @s ended (conn.c): with none left on a RUNNING segment,
 * start the idle timer
 */
void segment_idle_check(struct segment *s);

/**
 * segment_state_text() - The state for `list`: "armed", "running (idle 3m)", "stopping", ...
 * Return: malloc'ed, NULL on ENOMEM
 */
char *segment_state_text(const struct segment *s);

/**
 * segment_hold_new() - An undo of @s goes on in the background (a container removal): a STOPPING
 * segment waits for it before it re-arms
 * Return: the hold, to be released with segment_hold_release(); NULL on ENOMEM (then nothing
 * waits for it)
 */
struct segment_hold *segment_hold_new(struct segment *s);

/**
 * segment_hold_release() - The undo ended; frees @h (NULL is fine). Safe after the segment was
 * freed (the hold was detached then).
 */
void segment_hold_release(struct segment_hold *h);

/**
 * segment_hold_segment() - Return: the segment @h holds, NULL once that segment was freed
 */
struct segment *segment_hold_segment(const struct segment_hold *h);

/**
 * segment_kept_put() - Remember a container stopped by an idle stop with `keep`, for the word
 * @key (the spec word that will start it again); removed with the segment unless taken back
 * @id:		copied
 * Return: 0, -ENOMEM
 */
int segment_kept_put(struct segment *s, const void *key, const char *id);

/**
 * segment_kept_take() - Return: the kept container of @key (malloc'ed; the caller owns it and
 * it is no longer the segment's), or NULL
 */
char *segment_kept_take(struct segment *s, const void *key);

/**
 * segment_stopping() - Return: whether @s is undoing its trigger because it was idle (words'
 * undo() may then stop instead of remove, see s->idle_keep)
 */
bool segment_stopping(const struct segment *s);

/**
 * segment_adopting() - Return: whether the words of @s being applied now should adopt what
 * the daemon's previous run left (docker-run: its container, found by its labels) instead of
 * starting anew: during the creation of a restored segment (init words; a top segment from the
 * state file, or a child its restoring parent creates with the id it had) and during the first
 * trigger run of one whose trigger had run before the restart. A trigger word that cannot look
 * (Docker does not answer) fails with -EHOSTDOWN: the segment re-arms and its next trigger run
 * adopts again; any other failure re-arms it for a plain run.
 */
bool segment_adopting(const struct segment *s);

/**
 * segment_restore_port() - Return: the port the head of restored segment @s had before the
 * restart (an ephemeral head binds it again if it can), 0 when none or not restored
 */
uint16_t segment_restore_port(const struct segment *s);

/**
 * segment_restore_rest() - The records a restore of @s still holds for descendants not created
 * yet (a trigger that had run, waiting to run again), so a state file written meanwhile keeps them
 * @ret_n:	how many
 * Return: the first record (borrowed, valid until the restore of @s is done), or NULL
 */
const struct segment_restore *segment_restore_rest(const struct segment *s, size_t *ret_n);

/**
 * segment_saved_triggered() - Return: whether the state file should say the trigger of @s ran:
 * it is triggered (listening, or running under `idle`), or it is restoring a trigger that had run
 */
bool segment_saved_triggered(const struct segment *s);

/**
 * segment_keeps_containers() - Return: whether undoing the words of @s now must leave its
 * containers running: the daemon exits and the top segment of @s is saved in the state file
 * (the next start adopts them, a child's too). A delete, a failure or an idle stop always
 * removes them.
 */
bool segment_keeps_containers(const struct segment *s);

/**
 * segment_trigger() - Run the trigger words (for the engine's connection code, when the first
 * connection arrives at an armed segment); waiting connections are served or closed when it ends
 */
void segment_trigger(struct segment *s);

/**
 * segment_tail_nth() - Return: tail @k of @s (0 is &s->tail), NULL if @k >= s->n_tails
 */
struct segment_tail *segment_tail_nth(struct segment *s, size_t k);

/**
 * segment_tail_add_name() - Tail @k of @s serves TLS connections for server name @pattern (an
 * exact name or "*.suffix", tls-sni.h); the segment routes by SNI from now on
 * Return: 0, -ERANGE (no such tail), -ENOMEM
 */
int segment_tail_add_name(struct segment *s, size_t k, const char *pattern);

/**
 * segment_route_pick() - The tail for a connection to server @name (NULL: none was sent or
 * the ClientHello was not readable): the tail with the exact name, else with the longest
 * matching suffix, else the one without names (the default)
 * Return: the tail (borrowed), NULL when none fits (the connection is closed)
 */
struct segment_tail *segment_route_pick(struct segment *s, const char *name);

/* A balancing segment picks among at most this many tails (a connection's tried set is a mask). */
#define SEGMENT_BALANCE_TAILS_MAX 32

/**
 * segment_balance_pick() - The tail for a new connection of a balancing segment (or for one
 * whose open failed): among the tails not in @tried (bit k: tail k) and not down, the one with
 * the fewest active connections, ties and `balance round-robin` going round from the last pick.
 * When every tail left is down, the next of them anyway: a connection fails only when every
 * tail failed for it.
 * @now:	the monotonic time (now_usec())
 * Return: the tail's index (< SEGMENT_BALANCE_TAILS_MAX), or -1 when every tail was tried
 */
int segment_balance_pick(struct segment *s, uint32_t tried, uint64_t now);

/**
 * segment_tail_failed() - An open to tail @t of balancing segment @s failed with @error: it is
 * down, skipped for SEGMENT_TAIL_RETRY_USEC (logged when it goes down)
 */
void segment_tail_failed(struct segment *s, struct segment_tail *t, int error);

/**
 * segment_tail_opened() - An open to tail @t of @s succeeded: it is up (logged when it was down)
 */
void segment_tail_opened(struct segment *s, struct segment_tail *t);

/**
 * segment_tails_text() - The tail for `list`: segment_tail_url(), and for a balancing segment
 * each tail's state and counts: "round-robin: tcp://127.0.0.1:8081 (up, 1 active, 10 total,
 * 0 failed), tcp://127.0.0.1:8082 (down, ...)"
 * Return: malloc'ed, NULL on ENOMEM
 */
char *segment_tails_text(const struct segment *s);
