/* SPDX-License-Identifier: MIT */
/*
 * control-internal.h - what the parts of the control server share: a client, the server, and
 * the few functions one part calls in another
 *
 * control.c owns the socket and the clients (reading, the output queue, deadlines, flushing);
 * control-ops.c turns a request line into a handler call and holds the handlers; control-list.c
 * streams the list reply. Nothing outside wormholed/control*.c includes this header.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "list.h"

struct control_peer_extras;
struct ctl_reply;
struct ctl_request;
struct daemon;
struct segment;
struct stream;
struct tunnels_wait;

#define CTL_MAX_CLIENTS	     256
#define CTL_MAX_PEER_CLIENTS 1024		   /* control streams from peer links, on top */
#define CTL_OUT_MAX	     (64u * 1024u)	   /* stop reading (and listing) above this */
#define CTL_LIST_BATCH	     1024		   /* segment lines formatted at a time */
#define CTL_IDLE_USEC	     (5 * 1000 * 1000ULL)  /* to send a full request */
#define CTL_DRAIN_USEC	     (10 * 1000 * 1000ULL) /* for pending output to make progress */

struct ctl_client;

struct create_req {
	struct ctl_client *client;
	struct segment *s; /* the top segment being created */
};

struct control {
	struct daemon *d;
	int fd;
	sd_event_source *src;
	char *path; /* unlinked at the end when we bound it */
	struct ctl_client *clients;
	unsigned n_clients;
	/* requests over peer links (control_set_peer_hooks()) */
	void (*peer_created)(struct segment *s, void *origin, void *userdata);
	int (*peer_renew)(struct segment *s, void *origin, void *userdata);
	const char *(*peer_name)(void *origin);
	void *peer_userdata;
	const struct control_peer_extras *extras;
	void *extras_userdata;
};

struct ctl_client {
	struct control *ctl;
	LIST_FIELDS(struct ctl_client, clients);
	int fd;
	sd_event_source *src;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len;
	struct create_req *pending;
	struct tunnels_wait *twait; /* a tunnel request waiting for a peer */
	struct list_stream *list;   /* a list reply being streamed */
	sd_event_source *timer;	    /* idle or drain deadline */
	uint64_t last_usec;	    /* accepted, took a request, or sent bytes */
	bool closing;		    /* close once the output is flushed */
	bool eof;		    /* the client will send nothing more */
	/* a client on a peer link (control_attach_stream()): @fd is -1, @src a defer source */
	struct stream *st;
	bool st_idle; /* its last read said -EAGAIN: wait for a wake */
	void *origin; /* the link it came on */
};

struct list_stream {
	struct segment **order; /* parents before their children; may hold freed pointers */
	size_t n, pos;
	uint64_t count; /* lines sent */
};

/**
 * control_client_queue() - Append the line of @rep to the output of @c (nothing is sent yet)
 * @c:		the client (borrowed)
 * @rep:	the reply (borrowed)
 * Return: 0, -ENOMEM, or what ctl_reply_format() returns
 */
int control_client_queue(struct ctl_client *c, const struct ctl_reply *rep);

/**
 * control_client_reply_error() - Queue an error reply with a printf-formatted message
 * @c:		the client (borrowed)
 * Return: 0, -ENOMEM
 */
int control_client_reply_error(struct ctl_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * control_client_process() - Take the waiting requests of @c (or its next list batch) while it
 * may work, then flush its output
 * @c:		the client; may be freed
 * Return: 0, or <0 when the client is gone (freed)
 */
int control_client_process(struct ctl_client *c);

/**
 * control_handle_line() - Parse one request line of @c, authorize it, run its handler; every
 * failure becomes an error reply queued on @c
 * @line:	the line with its newline, @len bytes (borrowed)
 * Return: 0, or what queueing an error reply returns
 */
int control_handle_line(struct ctl_client *c, const char *line, size_t len);

/**
 * control_handle_list() - Start the list reply of @c: take the order of the segments now;
 * control_client_process() streams it in batches
 * Return: 0, -ENOMEM
 */
int control_handle_list(struct ctl_client *c, struct ctl_request *req);

/**
 * control_list_fill() - Queue the next batch of list lines on @c; after the last segment, the
 * link lines and the end line, and c->list is freed
 * Return: 0, -ENOMEM (c->list stays; the caller frees it)
 */
int control_list_fill(struct ctl_client *c);

/**
 * control_list_stream_free() - Free @l (NULL is fine)
 * Return: NULL
 */
struct list_stream *control_list_stream_free(struct list_stream *l);
