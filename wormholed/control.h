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
