/* SPDX-License-Identifier: MIT */
/*
 * control.h - the local control socket: newline-delimited JSON requests from root only
 */
#pragma once

#include <stdbool.h>

struct control;
struct daemon;

/**
 * control_new() - Serve the control protocol
 * @d:		the daemon (borrowed)
 * @path:	socket path to bind (0600), or NULL when @fd is given
 * @fd:		an already listening socket (systemd socket activation), or -1
 * @ret:	the server on success only
 *
 * Return: 0 or a negative errno: -EADDRINUSE if another daemon answers on @path, -ENOTSOCK if
 *		@path exists and is not a socket (it is left alone; a stale socket is replaced)
 */
int control_new(struct daemon *d, const char *path, int fd, struct control **ret);

/**
 * control_free() - Close every client and the listener; unlink the path we bound. NULL is fine.
 * Return: NULL
 */
struct control *control_free(struct control *c);

struct segment;
struct stream;

/**
 * control_attach_stream() - Serve the control protocol on a stream from a peer link (requests
 * authenticated by the link's key; they may create segments with a peer-link head and renew
 * leases)
 * @st:		ownership passes to the control server on 0 only
 * @origin:	the link it came on (an opaque pointer handed to the hooks)
 *
 * Return: 0, -EBUSY (too many clients), -ENOMEM
 */
int control_attach_stream(struct control *ctl, struct stream *st, void *origin);

/**
 * control_set_peer_hooks() - What the peer server wants to know: a segment created for a peer
 * (@created), a lease renewed (@renew: 0, or <0 when @s has no lease), a name for logs (@name)
 */
void control_set_peer_hooks(struct control *ctl,
			    void (*created)(struct segment *s, void *origin, void *userdata),
			    int (*renew)(struct segment *s, void *origin, void *userdata),
			    const char *(*name)(void *origin), void *userdata);

struct ctl_link_info;
struct ctl_request;

/* More of what the peer server does for the control server (all may be NULL). */
struct control_peer_extras {
	/* hello over the link @origin: the daemon there calls itself @name; 0 or -errno with
	 * *ret_error (-EEXIST: the name is another daemon's) */
	int (*hello)(void *origin, const char *name, const char *instance, char **ret_error,
		     void *userdata);
	/* link / unlink @host ("gw.example[:port]"): 0 or -errno with *ret_error */
	int (*link)(const char *host, bool on, char **ret_error, void *userdata);
	/* list: @emit each link (the info is borrowed for the call) */
	void (*links)(void (*emit)(const struct ctl_link_info *i, void *ctx), void *ctx,
		      void *userdata);
	/* may the key of @origin do @req? 0, or -EPERM with *ret_error naming the rule that
	 * refuses it; also logs which key did what */
	int (*authorize)(void *origin, const struct ctl_request *req, char **ret_error,
			 void *userdata);
};

/**
 * control_set_peer_extras() - Set (or with NULL clear) @ops (borrowed, static)
 */
void control_set_peer_extras(struct control *ctl, const struct control_peer_extras *ops,
			     void *userdata);

/**
 * control_forget_origin() - The link @origin ended: its clients keep running without an origin
 */
void control_forget_origin(struct control *ctl, void *origin);
