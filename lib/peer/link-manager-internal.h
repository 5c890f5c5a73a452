/* SPDX-License-Identifier: MIT */
/*
 * link-manager-internal.h - what the parts of the link manager share (not for other modules)
 *
 * The link manager is split by concern over link-manager.c (the manager, its listeners and
 * accepted links, keys), peer-links.c (peers and their dialed links) and peer-requests.c
 * (control requests). This header holds the structs more than one of them touches and the
 * functions one part calls in another; the public interface stays link-manager.h.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <systemd/sd-event.h>

#include "h2-link.h"
#include "link-manager.h"
#include "sockaddr.h"

struct stream;

#define LISTEN_MAX 8

struct accepted {
	struct h2_link *link;
	struct accepted *prev, *next;
	char *name;	   /* the name its daemon claimed (hello), NULL before */
	char *instance;	   /* and that daemon's run */
	uint64_t up_since; /* 0 while the handshake runs */
};

struct peer_manager {
	sd_event *event;
	SSL_CTX *client_ctx, *server_ctx;
	const struct peer_manager_ops *ops;
	void *userdata;
	struct peer *peers;
	struct accepted *accepted;
	sd_event_source *listeners[LISTEN_MAX];
	unsigned n_listeners;
	struct peer_keyring *keyring; /* the keys accepted links may use (scoped keys) */
};

struct peer {
	struct peer_manager *m; /* NULL once the manager is gone */
	struct peer *prev, *next;
	unsigned refs;
	char *name;
	union sockaddr_union sa;
	socklen_t salen;
	struct h2_link *link; /* a named peer's is borrowed from its struct accepted */
	bool named;	      /* reached through a link it dialed to us, by name: never dialed */
	uint64_t up_since;
	unsigned holds;
	uint64_t backoff, next_dial;
	sd_event_source *reconnect;
	uint64_t ups;		   /* links that came up: reconnects = ups - 1 */
	struct h2_link_stats gone; /* what its ended links counted (rtt: the last one's) */
};

/**
 * lm_peer_open_internal() - Open a stream to @p, dialing its link when there is none
 * @p:		the peer (borrowed)
 * @path:	the request path (copied)
 * @now:	dial even while the peer's backoff runs
 * @ret:	the stream; owned by the caller, written on success only
 *
 * Return: 0, -ENOTCONN (the manager is gone), -EHOSTUNREACH (a named peer's link is down, or
 * the backoff runs and @now is false), or what dialing or h2_link_open() returns
 */
int lm_peer_open_internal(struct peer *p, const char *path, bool now, struct stream **ret);
