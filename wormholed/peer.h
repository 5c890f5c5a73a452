/* SPDX-License-Identifier: MIT */
/*
 * peer.h - the peer server: the peer port, streams arriving on peer links, leases
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct control;
struct daemon;
struct peer;
struct peer_key;
struct peer_server;

#define PEER_LEASE_DEFAULT_USEC (60ULL * 1000000ULL)

/**
 * peer_server_new() - Start the peer links of this daemon: d->peers is set
 * @d:		the daemon (borrowed)
 * @ctl:	the control server that serves "/ctl" streams (borrowed, outlives the server)
 * @key:	the key (copied)
 * @listen:	NULL-terminated addresses to accept links on ("0.0.0.0:9999"); may be empty
 * @lease_usec:	how long a segment made for a peer outlives that peer's link
 * @ret:	on success only
 *
 * Return: 0 or a negative errno after logging why
 */
int peer_server_new(struct daemon *d, struct control *ctl, const struct peer_key *key,
		    char *const *listen, uint64_t lease_usec, struct peer_server **ret);

/**
 * peer_server_free() - Close every link and listener; d->peers is reset. NULL is fine.
 * Return: NULL
 */
struct peer_server *peer_server_free(struct peer_server *ps);

/**
 * peer_server_detach_control() - The control server goes away first (shutdown): "/ctl" streams
 * are refused from now on, links and leases keep running. NULL is fine
 */
void peer_server_detach_control(struct peer_server *ps);

/**
 * peer_server_set_name() - This daemon's name, said to the far side of the links it dials out
 * (--name); NULL: the short host name
 * Return: 0, -EINVAL (logged), -ENOMEM
 */
int peer_server_set_name(struct peer_server *ps, const char *name);

/**
 * peer_server_link() - Keep (@on) or stop keeping a link dialed from here to @host[:port] (a
 * daemon behind NAT dials its gateway): re-dialed with backoff, "hello NAME" on each (re)connect
 * @ret_error:	on failure, a malloc'ed message
 * Return: 0 (also when already kept), -EINVAL, -EADDRNOTAVAIL, -ENOENT (unlink: not kept), -ENOMEM
 */
int peer_server_link(struct peer_server *ps, const char *host, bool on, char **ret_error);

/**
 * peer_server_set_key_dir() - Accept links with @key (copied) and with every key in @dir
 * (scoped keys, `wormhole keygen --allow`; re-read when it changes, so removing a file revokes
 * its key): each request is then checked against the rules of the key its link used
 * Return: 0 or a negative errno after logging why
 */
int peer_server_set_key_dir(struct peer_server *ps, const struct peer_key *key, const char *dir);

/**
 * peer_server_label_link() - Keep (@on) or release a link to @p with our name said on it, for a
 * container published there (labels.c): counted, one release per keep; a link also asked for
 * with --link or `wormhole link` stays when the last label releases it, and `wormhole unlink`
 * leaves a link that labels still use
 * @p:		the peer (borrowed; the link keeps its own reference)
 * Return: (@on) 1 when the far side knows our name on the link that is up now, 0 when not yet
 * (the named hook is called once it does), -ENOMEM; (release) 0
 */
int peer_server_label_link(struct peer_server *ps, struct peer *p, bool on);

/**
 * peer_server_set_named_hook() - @fn is called each time a peer took our name on a link kept
 * from here (the link came up, or back up), and each time a held peer that dials us (known by
 * its name) came back: what is published through that peer can be made or renewed now. NULL
 * @fn: none
 */
void peer_server_set_named_hook(struct peer_server *ps, void (*fn)(struct peer *p, void *userdata),
				void *userdata);

/**
 * peer_server_name() - Return: this daemon's name on the links it dials (borrowed)
 */
const char *peer_server_name(const struct peer_server *ps);

/**
 * peer_server_leased() - Whether segment @id was created over a peer link (it has a lease);
 * @userdata is the struct peer_server (boot_set_leases())
 */
bool peer_server_leased(const char *id, void *userdata);

/**
 * peer_server_restore_lease() - Segment @id was restored with a lease: it runs, and goes after
 * the lease time unless its creator renews it from a link; @userdata is the struct peer_server
 */
void peer_server_restore_lease(const char *id, void *userdata);
