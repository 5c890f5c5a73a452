/* SPDX-License-Identifier: MIT */
/*
 * engine.h - the engine's root object: what every segment of one daemon shares
 *
 * One struct daemon per process, filled by wormholed at start: the event loop and the data path's
 * inner epoll set, the pipe pool, the table of word ops (chains/, handed down so the engine never
 * includes the floor above it), limits, the Docker client and the registry of segments.
 */
#pragma once

#include <stdint.h>

#include <systemd/sd-event.h>

struct chain_op;
struct sockaddr;
struct container_watch;
struct docker;
struct docker_op;
struct head_listen;
struct ioloop;
struct peer_manager;
struct pipe_pool;
struct segment;
struct strmap;

struct daemon {
	const struct chain_op *const *ops; /* indexed by enum spec_word_type (chains/) */
	sd_event *event;
	struct ioloop *loop; /* the data path's epoll set (relays, connectors), on event */
	struct pipe_pool *pipes;
	struct segment *segments; /* registry, in creation order (O(1) append: a tail pointer) */
	struct segment *segments_last;
	struct strmap *by_id; /* the registry by id (segment.c) */
	uint64_t connect_timeout_usec;
	uint64_t udp_idle_usec;
	unsigned max_conns;
	const char *instance; /* the control socket path: labels our containers */
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
