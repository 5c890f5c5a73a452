/* SPDX-License-Identifier: MIT */
/*
 * peer-internal.h - what peer.c (the peer server: streams, leases, control extras) and
 * peer-out.c (links dialed from here, our name on them) share; not for other files
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

struct control;
struct daemon;
struct h2_link;
struct peer;
struct peer_request;
struct resolve;

struct link_out {
	struct peer_server *ps;
	char *host; /* as asked: "gw.example", "198.18.0.2:9999" */
	struct peer *peer;
	struct peer_request *rq; /* a hello on its way */
	sd_event_source *retry;
	bool named;		 /* the far side took our name on the current link */
	bool asked;		 /* by --link or `wormhole link` (not only for labels) */
	unsigned label_refs;	 /* containers published through this peer (labels.c) */
	sd_event_source *linger; /* the last label went: the link lives on for LINGER_USEC */
	/* a host name, looked up off the loop (again every RESOLVE_RETRY_USEC until it resolves) */
	struct resolve *res;
	sd_event_source *resolve_retry;
	char *rhost;
	uint16_t rport;
	struct link_out *next;
};

struct lease {
	char *id;
	struct h2_link *origin; /* NULL once its link ended */
	uint64_t expires;	/* when origin is NULL */
	struct lease *next;
};

struct peer_server {
	struct daemon *d;
	struct control *ctl;
	uint64_t lease_usec;
	struct lease *leases;
	sd_event_source *timer;
	char *name;
	char instance[33];
	struct link_out *links_out;
	void (*named_fn)(struct peer *p, void *userdata);
	void *named_userdata;
};

/**
 * peer_out_hello() - Say our name on @lo's link (again): the far side serves `remote NAME`
 * through it; a refusal is logged and asked again later
 */
void peer_out_hello(struct link_out *lo);

/**
 * peer_out_free() - Cancel what @lo has in flight, release its peer. Return: NULL
 */
struct link_out *peer_out_free(struct link_out *lo);
