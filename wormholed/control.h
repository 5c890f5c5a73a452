/* SPDX-License-Identifier: MIT */
/*
 * control.h - the local control socket: newline-delimited JSON requests from root only
 */
#pragma once

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

/**
 * control_forget_origin() - The link @origin ended: its clients keep running without an origin
 */
void control_forget_origin(struct control *ctl, void *origin);
