/* SPDX-License-Identifier: MIT */
/*
 * engine.h - the engine's root object: what every segment of one daemon shares
 *
 * One struct daemon per process, filled by wormholed at start: the event loop and the data path's
 * inner epoll set, the pipe pool, the table of word ops (chains/, handed down so the engine never
 * includes the floor above it), limits, the Docker client and the registry of segments.
 *
 * Descriptors are shared fairly (conn.c, conn_admit()): a fixed reserve (the control socket's
 * clients, the pipe pool, the Docker client) is never given to connections; what remains, less
 * one per segment, is the connection budget. A segment may always hold its share of it (the budget
 * divided by one more than the number of segments, so a segment created later still finds room);
 * beyond its share it may borrow only while a quarter of the budget stays free.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

struct chain_op;
struct sockaddr;
struct container_watch;
struct daemon;
struct docker;
struct docker_op;
struct head_listen;
struct ioloop;
struct peer_manager;
struct pipe_pool;
struct segment;
struct strmap;

/*
 * What the process above the engine (wormholed) offers it: descriptors the service manager passed,
 * a copy of every listener the daemon binds (the fd store), and what a restore remembers. Every
 * member may be NULL.
 */
struct daemon_hooks {
	/* a listener passed under @name (`url fd:NAME`); borrowed fd, or -ENOENT */
	int (*inherited_fd)(struct daemon *d, const char *name);
	/* the listener a segment of the previous run left in the fd store; borrowed fd, or
	 * -ENOENT. Adopted only if it is bound where the head would bind. */
	int (*stored_listener)(struct daemon *d, const char *id);
	/* segment @id now listens on @fd (borrowed; bound by the daemon, or @adopted from the
	 * store) / stopped listening */
	void (*listener_up)(struct daemon *d, const char *id, int fd, bool adopted);
	void (*listener_down)(struct daemon *d, const char *id);
	/* a restore: the port segment @id had (0: none), and the id the child of @parent_id had
	 * (NULL: generate one) */
	uint16_t (*restore_port)(struct daemon *d, const char *id);
	const char *(*restore_child_id)(struct daemon *d, const char *parent_id);
	/* a restore: whether the trigger of segment @id had run (it runs again at once, adopting
	 * the containers it had started) */
	bool (*restore_triggered)(struct daemon *d, const char *id);
	/* a restore: whether top segment @id comes from the state file (its docker-run words
	 * adopt the containers the previous run left, found by their labels) */
	bool (*restored)(struct daemon *d, const char *id);
	/* whether @s is saved in the state file: at the daemon's exit its docker-run containers
	 * are left running, for the next start to adopt */
	bool (*persists)(struct daemon *d, const struct segment *s);
	/* a segment was registered or unregistered, or its trigger ran: what a state file holds
	 * changed */
	void (*changed)(struct daemon *d);
};

struct daemon {
	const struct chain_op *const *ops; /* indexed by enum spec_word_type (chains/) */
	sd_event *event;
	struct ioloop *loop; /* the data path's epoll set (relays, connectors), on event */
	struct pipe_pool *pipes;
	struct segment *segments; /* registry, in creation order (O(1) append: a tail pointer) */
	struct segment *segments_last;
	struct strmap *by_id; /* the registry by id (segment.c) */
	uint64_t connect_timeout_usec;
	bool connect_timeout_set; /* --connect-timeout given: every tail retries while refused */
	uint64_t udp_idle_usec;
	uint64_t idle_timeout_usec; /* a TCP connection quiet both ways this long ends; 0: never */

	/* fair shares of descriptors (conn.c, conn_admit()) */
	unsigned fd_limit;	   /* RLIMIT_NOFILE after raising the soft limit to the hard one */
	unsigned max_conns;	   /* --max-conns: a cap per segment on top of the share; 0: none */
	unsigned max_udp_sessions; /* UDP sessions per segment */
	uint64_t conns_active;	   /* connections and UDP sessions of every segment */
	const char *instance;	   /* the daemon id (wormholed/state.c): labels our containers */
	uint64_t next_conn_id;

	/* listeners paused on EMFILE: resumed as soon as a connection gives its fds back */
	struct head_listen *paused;

	/* the peer links (lib/peer); NULL without a key: `remote` is refused then */
	struct peer_manager *peers;
	/* during a tail's open() only (conn.c): the client of the connection being opened, for
	 * tails that carry it on (the peer tail puts it on the stream); NULL when unknown */
	const struct sockaddr *opening_client;
	unsigned opening_client_len;

	struct docker *docker;
	struct container_watch *watches;
	struct docker_op *events_op;
	/* progress of a long creation (an image pull), for the client that asked */
	void (*progress)(struct daemon *d, struct segment *top, const char *text);
	void *progress_userdata;

	const struct daemon_hooks *hooks; /* NULL: none */
	void *hooks_userdata;
	bool exiting;		    /* the daemon exits: segments are freed, not deleted */
	unsigned restores_pending;  /* restored segments still adopting (segment.c) */
	bool sweep_wanted;	    /* the orphan sweep waits for restores_pending == 0 */
	unsigned sweep_retries;	    /* a sweep answered while a segment was busy runs again */
	unsigned runners_active;    /* word lists being applied (runner.c): a container made or
				     * adopted by one is not followed yet */
	sd_event_source *sweep_src; /* that retry's timer */
};

/**
 * engine_fds_released() - A connection closed its descriptors: resume the listeners that paused
 * on EMFILE (relayd's way), instead of leaving them deaf until their fallback timer
 */
void engine_fds_released(struct daemon *d);

/**
 * daemon_free_all_segments() - segment_free() every top segment (shutdown)
 */
void daemon_free_all_segments(struct daemon *d);
