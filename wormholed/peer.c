/* SPDX-License-Identifier: MIT */
/*
 * peer.c - the peer server: the peer port, what arrives on peer links, and leases
 *
 * Streams arriving on any link (lib/peer/link-manager.h) are dispatched by path: "/ctl" goes to
 * the control server (the same JSON requests as the control socket, authenticated by the link's
 * key), "/data/<id>" to segment <id>'s peer-link head (lib/engine/head-peer.c); anything else is
 * refused. A segment created over a link gets a lease tied to that link: while the link lives
 * the lease does not run; once it ends, the segment (and the containers it started) is removed
 * after the lease time unless its creator renews it from a new link. Failed links are logged
 * once each, with the peer's address.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "chains.h"
#include "cleanup.h"
#include "control.h"
#include "h2-link.h"
#include "head.h"
#include "link-manager.h"
#include "log.h"
#include "peer.h"
#include "segment.h"
#include "stream.h"

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
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static int on_stream(struct peer_manager *m, struct h2_link *l, const char *path, struct stream *st,
		     void *userdata)
{
	struct peer_server *ps = userdata;
	struct segment *s;
	int r;

	if (strcmp(path, "/ctl") == 0)
		return ps->ctl ? control_attach_stream(ps->ctl, st, l) : -ECONNREFUSED;
	if (strncmp(path, "/data/", 6) != 0)
		return -ENOENT;
	s = segment_find(ps->d, path + 6);
	if (!s)
		return -ENOENT;
	r = head_peer_accept(s, st, h2_link_peer(l));
	if (r < 0)
		log_debug("segment '%s': refusing a stream from %s: %s", s->id, h2_link_peer(l),
			  strerror(-r));
	return r;
}

static void on_link_event(struct peer_manager *m, struct h2_link *l, const char *peer, bool dialed,
			  bool up, int error, const char *reason, void *userdata)
{
	if (up) {
		log_info("peer link %s %s up", dialed ? "to" : "from", peer);
		return;
	}
	if (error == -EACCES)
		log_warning("peer link %s %s refused: %s", dialed ? "to" : "from", peer,
			    reason ?: "handshake failed");
	else if (error == -ECONNABORTED)
		log_debug("peer link %s %s closed", dialed ? "to" : "from", peer);
	else
		log_notice("peer link %s %s down: %s", dialed ? "to" : "from", peer,
			   reason ?: strerror(-error));
}

static void on_peer_up(struct peer_manager *m, struct peer *p, void *userdata)
{
	chain_remote_peer_up(p);
}

static void on_link_gone(struct peer_manager *m, struct h2_link *l, void *userdata)
{
	struct peer_server *ps = userdata;

	if (ps->ctl)
		control_forget_origin(ps->ctl, l);
	for (struct lease *x = ps->leases; x; x = x->next)
		if (x->origin == l) {
			x->origin = NULL;
			x->expires = now_usec() + ps->lease_usec;
			log_notice("segment '%s': its creator's link ended; removed in %llu s "
				   "unless renewed",
				   x->id, (unsigned long long)(ps->lease_usec / 1000000));
		}
}

static const struct peer_manager_ops manager_ops = {
	.stream = on_stream,
	.link_event = on_link_event,
	.peer_up = on_peer_up,
	.link_gone = on_link_gone,
};

static struct lease *lease_find(struct peer_server *ps, const char *id)
{
	for (struct lease *x = ps->leases; x; x = x->next)
		if (strcmp(x->id, id) == 0)
			return x;
	return NULL;
}

static void on_created(struct segment *s, void *origin, void *userdata)
{
	struct peer_server *ps = userdata;
	struct lease *x = lease_find(ps, s->id);

	if (!x) {
		x = calloc(1, sizeof(*x));
		if (!x)
			return;
		x->id = strdup(s->id);
		if (!x->id) {
			free(x);
			return;
		}
		x->next = ps->leases;
		ps->leases = x;
	}
	x->origin = origin;
	x->expires = 0;
}

static int on_renew(struct segment *s, void *origin, void *userdata)
{
	struct peer_server *ps = userdata;
	struct lease *x = lease_find(ps, s->id);

	if (!x)
		return -ENOENT;
	if (!x->origin)
		log_info("segment '%s': lease renewed by %s", s->id,
			 h2_link_peer((struct h2_link *)origin));
	x->origin = origin;
	x->expires = 0;
	return 0;
}

static const char *origin_name(void *origin)
{
	return h2_link_peer(origin);
}

static int on_lease_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct peer_server *ps = userdata;
	uint64_t now = now_usec();

	for (struct lease **p = &ps->leases; *p;) {
		struct lease *x = *p;
		struct segment *s = segment_find(ps->d, x->id);

		if (s && (x->origin || now < x->expires)) {
			p = &x->next;
			continue;
		}
		if (s) {
			log_notice("segment '%s': lease expired (its creator did not come back), "
				   "removing it",
				   x->id);
			segment_free(s);
		}
		*p = x->next;
		free(x->id);
		free(x);
	}
	(void)sd_event_source_set_time_relative(src, 1000000);
	(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	return 0;
}

int peer_server_new(struct daemon *d, struct control *ctl, const struct peer_key *key,
		    char *const *listen, uint64_t lease_usec, struct peer_server **ret)
{
	struct peer_server *ps;
	int r;

	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->d = d;
	ps->ctl = ctl;
	ps->lease_usec = lease_usec;
	r = peer_manager_new(d->event, key, &manager_ops, ps, &d->peers);
	if (r < 0) {
		free(ps);
		return log_error_errno(r, "cannot set up the peer links");
	}
	for (char *const *a = listen; a && *a; a++) {
		_cleanup_free_ char *err = NULL;

		r = peer_manager_listen(d->peers, *a, &err);
		if (r < 0) {
			log_error("peer port: %s", err ?: strerror(-r));
			peer_server_free(ps);
			return r;
		}
		log_info("peer links accepted on %s", *a);
	}
	r = sd_event_add_time_relative(d->event, &ps->timer, CLOCK_MONOTONIC, 1000000, 100000,
				       on_lease_timer, ps);
	if (r < 0) {
		peer_server_free(ps);
		return log_error_errno(r, "cannot arm the lease timer");
	}
	control_set_peer_hooks(ctl, on_created, on_renew, origin_name, ps);
	*ret = ps;
	return 0;
}

void peer_server_detach_control(struct peer_server *ps)
{
	if (!ps || !ps->ctl)
		return;
	control_set_peer_hooks(ps->ctl, NULL, NULL, NULL, NULL);
	ps->ctl = NULL;
}

struct peer_server *peer_server_free(struct peer_server *ps)
{
	if (!ps)
		return NULL;
	peer_server_detach_control(ps);
	ps->timer = sd_event_source_disable_unref(ps->timer);
	ps->d->peers = peer_manager_free(ps->d->peers);
	while (ps->leases) {
		struct lease *x = ps->leases;

		ps->leases = x->next;
		free(x->id);
		free(x);
	}
	free(ps);
	return NULL;
}
