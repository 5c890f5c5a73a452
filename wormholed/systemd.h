/* SPDX-License-Identifier: MIT */
/*
 * systemd.h - what wormholed gets from and tells the service manager
 *
 * Sockets: sd_listen_fds_with_names() at start. "control" is the control socket; names starting
 * with "seg." are listeners this daemon's previous run left in the fd store (FDNAME=seg.<id>);
 * "peer" is the peer port (one socket per ListenStream= of wormholed.socket); every other name is
 * a listener for a head written `url fd:NAME`. The daemon keeps them all
 * open for its whole life, so a segment deleted and created again uses the same socket.
 * Notifications: READY=1, STATUS=, STOPPING=1, FDSTORE=1 / FDSTOREREMOVE=1 (all no-ops without
 * $NOTIFY_SOCKET). The watchdog is sd-event's (sd_event_set_watchdog()).
 */
#pragma once

#include <stdbool.h>

struct daemon;

/**
 * sysd_listen_fds() - Take the sockets passed by the service manager (once, at start); a
 * "control" socket that is not a listening unix stream socket is closed with a warning
 * Return: the control socket's fd (owned by the caller) or -ENOENT
 */
int sysd_listen_fds(void);

/**
 * sysd_has_peer_fd() - Whether systemd passed a socket named "peer" not taken yet
 */
bool sysd_has_peer_fd(void);

/**
 * sysd_take_peer_fd() - One socket passed as "peer" (a listening stream socket)
 * Return: the fd, owned by the caller now, or -ENOENT when none is left
 */
int sysd_take_peer_fd(void);

/**
 * sysd_inherited_fd() - A socket passed under @name (not control, not a stored listener)
 * Return: borrowed fd, or -ENOENT
 */
int sysd_inherited_fd(const char *name);

/**
 * sysd_stored_listener() - The listener segment @id left in the fd store; marks it used
 * Return: borrowed fd, or -ENOENT
 */
int sysd_stored_listener(const char *id);

/**
 * sysd_store_listener() - Keep a copy of @fd (borrowed) in the fd store as "seg.<id>"
 */
void sysd_store_listener(const char *id, int fd);

/**
 * sysd_unstore_listener() - Remove "seg.<id>" from the fd store (the segment is gone)
 */
void sysd_unstore_listener(const char *id);

/**
 * sysd_drop_unused_stored() - After the restore: stored listeners no segment took are removed
 * from the fd store and closed
 */
void sysd_drop_unused_stored(void);

/**
 * sysd_notify_ready() - READY=1 with a STATUS= line of counts
 */
void sysd_notify_ready(struct daemon *d, unsigned failed);

/**
 * sysd_notify_status() - STATUS= with the counts (segments, connections)
 */
void sysd_notify_status(struct daemon *d);

/**
 * sysd_notify_stopping() - STOPPING=1
 */
void sysd_notify_stopping(void);

/**
 * sysd_free() - Close every descriptor kept
 */
void sysd_free(void);
