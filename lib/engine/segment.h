/* SPDX-License-Identifier: MIT */
/*
 * segment.h - segments: one proxy hop from a head (where it listens) to a tail (where it connects)
 *
 * A segment is created from one struct spec_seg: its init words run in order (each through its
 * chain op), then the head gets its defaults and its listener is bound inside the head's
 * namespace. Without trigger words the tail is completed (defaults, address) at once; with them
 * the segment is "armed": the first inbound connection runs the trigger words once, connections
 * arriving meanwhile wait for the same run, and a failed run closes the waiting connections, undoes
 * what it applied and re-arms. Every step taken is recorded so a failure at any point, or
 * segment_free(), undoes exactly what was done, in reverse.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <systemd/sd-event.h>

#include "sockaddr.h"
#include "url.h"

struct chain_op;
struct conn;
struct container_watch;
struct docker;
struct docker_op;
struct ioloop;
struct segment;
struct pipe_pool;
struct runner;
struct spec;
struct spec_seg;
struct udp_relay;
struct udp_session;

struct daemon {
	const struct chain_op *const *ops; /* indexed by enum spec_word_type (chains/) */
	sd_event *event;
	struct ioloop *loop; /* the data path's epoll set (relays, connectors), on event */
	struct pipe_pool *pipes;
	struct segment *segments; /* registry, in creation order */
	struct segment *segments_last;
	uint64_t connect_timeout_usec;
	uint64_t udp_idle_usec;
	unsigned max_conns;
	const char *instance; /* the control socket path: labels our containers */

	struct docker *docker;
	struct container_watch *watches;
	struct docker_op *events_op;
	/* progress of a long creation (an image pull), for the client that asked */
	void (*progress)(struct daemon *d, struct segment *top, const char *text);
	void *progress_userdata;
};

struct endpoint {
	enum url_proto proto; /* URL_PROTO_NONE until defaulted */
	char *ns_name;	      /* for display: iproute2 netns name */
	int nsfd;	      /* -1: the daemon's own namespace */
	char *host;	      /* NULL until defaulted */
	char *path;	      /* unix sockets */
	uint16_t port;	      /* 0: not set (head: ephemeral) */
	char *container;      /* for display: the container the namespace belongs to */
	char *container_id;   /* and its id, to follow it */
	bool down;	      /* its container is not running: refuse, do not listen */
};

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

	int listen_fd;
	sd_event_source *listen_src;
	sd_event_source *accept_retry_src;
	struct udp_relay *udp;
	union sockaddr_union tail_sa;
	socklen_t tail_salen;

	struct applied *applied;
	size_t n_applied;
	struct runner *runner;		    /* a word list being applied */
	struct container_watch *head_watch; /* a head inherited inside a container (child) */
	segment_created_fn create_cb;	    /* an asynchronous creation reports here */
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
 * @spec:	the top segment's spec; ownership passes to the segment on success only (NULL for
 *		children, whose words live in their top segment's spec)
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
 * segment_free() - Close the listener and every connection, undo every applied word (deleting
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
 * segment_bytes() - Bytes moved by finished and live connections
 */
void segment_bytes(const struct segment *s, uint64_t *ret_in, uint64_t *ret_out);

/**
 * endpoint_copy() - Deep copy (the namespace fd is duplicated). Return: 0, -ENOMEM, -errno
 */
int endpoint_copy(struct endpoint *dst, const struct endpoint *src);

/**
 * endpoint_done() - Free the strings, close the namespace fd, reset to an empty endpoint
 */
void endpoint_done(struct endpoint *e);

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
 * daemon_free_all_segments() - segment_free() every top segment (shutdown)
 */
void daemon_free_all_segments(struct daemon *d);
