/* SPDX-License-Identifier: MIT */
/*
 * tunnels.c - the daemon's IPsec tunnels: one per peer host, made, rekeyed and removed together
 * with the peer's daemon over the TLS peer link
 *
 * The registry holds one entry per peer underlay address, in one of three states: CREATING (we
 * initiated it and wait for the peer), PREPARED (a peer initiated it: our encap port and the
 * addresses are reserved until its tunnel-install comes) and UP (both halves in the kernels).
 *
 * Creation, by the initiator A with peer B (each request carries the receiver's half):
 *   A: overlay pair (A takes the lower address), reqid, fresh random SPI and key per direction,
 *      encap socket from the pool (udptunnel)
 *   A -> B tunnel-prepare (no keys): B checks the underlay address is its own, the overlay pair
 *      is free on B, the reqid unused, opens its encap port; replies with its port
 *   A -> B tunnel-install (keys): B installs its half (tunnel_install() rolls back on failure)
 *   A: installs its own half; on failure A asks B to delete its half
 * Any failure reported to the asker leaves nothing on either host (a timed-out install is
 * followed by a delete to B, in case it got through).
 *
 * Rekey, by the side with the lower overlay address (the initiator; so it is known again after a
 * restart), in the order of lib/tunnel/tunnel.h: A adds its new inbound SA; tunnel-rekey step 1
 * makes B add its new inbound and outbound SAs and drop its old outbound one; A adds its new
 * outbound SA and drops the old one; after TUNNEL_REKEY_GRACE_SEC A drops its old inbound SA and
 * step 2 makes B drop its own. A 1 s timer reads the kernel's counters (tunnel_rekey_due(): the
 * --rekey time, or the sequence number nearing 2^32), drives the steps and their deadlines.
 *
 * At start the kernel's tunnels are found again (tunnel_discover()): complete ones are
 * registered and their ESP-in-UDP socket is reopened on the same port; partial ones cannot be
 *
 * This file holds the registry, start and stop, the 1 s timer, discovery, the list and the
 * dispatcher of tunnel-* requests; the rest is split by concern, as tunnels-internal.h lists.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "engine.h"
#include "espinudp.h"
#include "log.h"
#include "time-util.h"
#include "tunnel-nl.h"
#include "tunnels-internal.h"

struct tunnels *T;

const char *tun_ip4(struct in_addr a, char buf[static INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* ---- the registry --------------------------------------------------------------------------- */

struct tun *tun_by_remote(struct in_addr a)
{
	for (struct tun *x = T->list; x; x = x->next)
		if (x->h.remote.s_addr == a.s_addr)
			return x;
	return NULL;
}

struct tun *tun_by_reqid(uint32_t reqid)
{
	for (struct tun *x = T->list; x; x = x->next)
		if (x->h.reqid == reqid)
			return x;
	return NULL;
}

void tun_unlink(struct tun *t)
{
	for (struct tun **p = &T->list; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			return;
		}
}

void tun_waiter_free(struct tunnels_wait *w)
{
	free(w);
}

void tun_notify(struct tunnels_wait *w, int r, const char *error, const struct tun *t)
{
	char b[INET_ADDRSTRLEN];

	if (w->ccb) {
		w->ccb(w->userdata, r, error, r < 0 ? NULL : tun_ip4(t->h.remote_ov, b));
	} else if (w->cb) {
		struct ctl_tunnel ct;
		struct ctl_reply rep = { .ok = r >= 0 };
		char oom[] = "out of memory";

		if (r >= 0 && tun_half_to_ctl(&t->h, t->peer_name, false, &ct) >= 0) {
			rep.tunnels = &ct;
			rep.n_tunnels = 1;
			rep.has_tunnels = true;
		} else if (r >= 0) {
			rep.ok = false;
			rep.error = oom;
		} else {
			rep.error = (char *)(uintptr_t)(error ?: strerror(-r));
		}
		w->cb(w->userdata, &rep, 1);
		if (rep.tunnels)
			ctl_tunnel_done(&ct);
	}
}

void tun_free(struct tun *t)
{
	if (!t)
		return;
	t->rq = peer_request_cancel(t->rq);
	while (t->waiters) {
		struct tunnels_wait *w = t->waiters;

		t->waiters = w->next;
		tun_waiter_free(w);
	}
	peer_unref(t->peer);
	t->encap_fd = safe_close(t->encap_fd);
	tunnel_half_wipe(&t->h);
	explicit_bzero(&t->n_out, sizeof(t->n_out));
	explicit_bzero(&t->n_in, sizeof(t->n_in));
	free(t->peer_name);
	free(t);
}

struct tun *tun_new(void)
{
	struct tun *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->encap_fd = -EBADF;
	t->next = T->list;
	T->list = t;
	return t;
}

/* ---- list, requests ----------------------------------------------------------------------------- */

static int list(struct ctl_reply *rep)
{
	size_t n = 0, i = 0;

	for (struct tun *x = T->list; x; x = x->next)
		n++;
	rep->tunnels = calloc(n + 1, sizeof(*rep->tunnels));
	if (!rep->tunnels)
		return -ENOMEM;
	rep->has_tunnels = true;
	for (struct tun *x = T->list; x; x = x->next) {
		struct ctl_tunnel *ct = &rep->tunnels[i];
		struct tunnel_counters c = { 0 };
		int r;

		r = tun_half_to_ctl(&x->h, x->peer_name, false, ct);
		if (r < 0)
			return r;
		rep->n_tunnels = ++i;
		if (x->state == TUN_UP && tunnel_counters(T->nl, &x->h, &c) >= 0) {
			ct->out_bytes = c.out_bytes;
			ct->out_packets = c.out_packets;
			ct->in_bytes = c.in_bytes;
			ct->in_packets = c.in_packets;
		}
		ct->rekeys = x->rekeys;
		ct->state = strdup(x->state == TUN_UP	      ? "up"
				   : x->state == TUN_CREATING ? "creating"
							      : "prepared");
		if (!ct->state)
			return -ENOMEM;
	}
	return 0;
}

static int reply_error(struct ctl_reply *ret, int r, char *msg)
{
	*ret = (struct ctl_reply){ .ok = false };
	if (msg)
		ret->error = msg;
	else if (!(ret->error = strdup(strerror(-r))))
		return -ENOMEM;
	return 0;
}

int tunnels_request(const struct ctl_request *req, int from_peer, struct ctl_reply *ret,
		    tunnels_reply_fn cb, void *userdata, struct tunnels_wait **ret_wait)
{
	char *err = NULL;
	struct tunnels_wait *w;
	struct tun *t = NULL;
	int r;

	if (!T)
		return reply_error(ret, -EOPNOTSUPP,
				   strdup("tunnels are not available in this wormholed (see its "
					  "log: netlink)"));
	switch (req->op) {
	case CTL_OP_TUNNEL_LIST:
		*ret = (struct ctl_reply){ .ok = true };
		r = list(ret);
		if (r < 0)
			ctl_reply_done(ret);
		return r;
	case CTL_OP_TUNNEL_CREATE:
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->cb = cb;
		w->userdata = userdata;
		r = tun_ensure(req->host, req->udp, w, &t, &err);
		if (r == 1) {
			*ret_wait = w;
			return 1;
		}
		free(w);
		if (r < 0)
			return reply_error(ret, r, err);
		*ret = (struct ctl_reply){ .ok = true, .has_tunnels = true, .n_tunnels = 1 };
		ret->tunnels = calloc(1, sizeof(*ret->tunnels));
		if (!ret->tunnels)
			return -ENOMEM;
		r = tun_half_to_ctl(&t->h, t->peer_name, false, ret->tunnels);
		if (r < 0)
			ctl_reply_done(ret);
		return r;
	case CTL_OP_TUNNEL_DELETE:
		if (!req->tunnel) {
			r = tun_delete_host(req->host, cb, userdata, ret_wait, &err);
			if (r < 0)
				return reply_error(ret, r, err);
			return r == 0 ? 2 : 1;
		}
		if (!from_peer)
			return reply_error(ret, -EPERM,
					   strdup("tunnel-delete of a half comes over a peer link "
						  "only"));
		t = tun_by_reqid((uint32_t)req->tunnel->reqid);
		if (t)
			tun_remove(t, "its peer asked");
		*ret = (struct ctl_reply){ .ok = true };
		return 0;
	case CTL_OP_TUNNEL_PREPARE:
	case CTL_OP_TUNNEL_INSTALL:
	case CTL_OP_TUNNEL_REKEY:
		if (!from_peer)
			return reply_error(ret, -EPERM,
					   strdup("this request comes over a peer link only"));
		r = req->op == CTL_OP_TUNNEL_PREPARE   ? tun_on_prepare(req->tunnel, &err)
		    : req->op == CTL_OP_TUNNEL_INSTALL ? tun_on_install(req->tunnel, &err)
						       : tun_on_rekey(req->tunnel, req->step, &err);
		if (r < 0)
			return reply_error(ret, r, err);
		*ret = (struct ctl_reply){ .ok = true };
		if (req->op == CTL_OP_TUNNEL_PREPARE) {
			t = tun_by_reqid((uint32_t)req->tunnel->reqid);
			ret->tunnels = calloc(1, sizeof(*ret->tunnels));
			if (!t || !ret->tunnels)
				return -ENOMEM;
			ret->has_tunnels = true;
			ret->n_tunnels = 1;
			r = tun_half_to_ctl(&t->h, NULL, false, ret->tunnels);
			if (r < 0)
				ctl_reply_done(ret);
			return r;
		}
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

void tunnels_wait_cancel(struct tunnels_wait *w)
{
	if (!w)
		return;
	if (w->del) {
		w->del->w = NULL;
		tun_waiter_free(w);
		return;
	}
	if (w->tun)
		for (struct tunnels_wait **p = &w->tun->waiters; *p; p = &(*p)->next)
			if (*p == w) {
				*p = w->next;
				break;
			}
	tun_waiter_free(w);
}

/* ---- start, timer, stop ------------------------------------------------------------------------- */

static int on_tick(sd_event_source *src, uint64_t usec, void *userdata)
{
	uint64_t now = (now_usec() / USEC_PER_SEC);

	for (struct tun *t = T->list, *next; t; t = next) {
		next = t->next;
		if (t->state == TUN_PREPARED && now >= t->deadline)
			tun_remove(t, "its install never came");
		else if (t->state == TUN_CREATING && now >= t->deadline) {
			tun_send_delete(t);
			tun_create_fail(t, -ETIMEDOUT, "the peer did not answer in time");
		} else if (t->state == TUN_UP)
			tun_rekey_tick(t, now);
	}
	for (struct del_op *op = T->dels, *next; op; op = next) {
		next = op->next;
		if (now >= op->deadline)
			tun_del_finish(op, "the peer did not answer");
	}
	(void)sd_event_source_set_time_relative(src, 1000000);
	return sd_event_source_set_enabled(src, SD_EVENT_ON);
}

static void discover(void)
{
	struct tunnel_found *v = NULL;
	char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN], b3[INET_ADDRSTRLEN];
	size_t n = 0;
	int r;

	r = tunnel_discover(T->nl, &v, &n);
	if (r < 0) {
		log_warning_errno(r, "cannot look for tunnels of an earlier run, ignoring");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct tunnel_half *h = &v[i].h;
		struct tun *t;

		if (v[i].has != TUNNEL_HAS_ALL) {
			r = tunnel_remove(T->nl, h);
			log_notice("tunnel %08x to %s: found partial (parts %#x of %#x), %s",
				   h->reqid, tun_ip4(h->remote, b1), v[i].has, TUNNEL_HAS_ALL,
				   r < 0 ? "removing it failed" : "removed");
			tunnel_half_wipe(h);
			continue;
		}
		t = tun_new();
		if (!t) {
			tunnel_half_wipe(h);
			continue;
		}
		t->h = *h;
		tunnel_half_wipe(h);
		t->h.rekey_sec = T->rekey_sec; /* this run's --rekey governs, not the last one's */
		t->state = TUN_UP;
		if (t->h.encap == TUNNEL_ENCAP_UDP) {
			t->encap_fd = espinudp_open_port(-1, t->h.local_port);
			if (t->encap_fd < 0)
				log_warning_errno(
					t->encap_fd,
					"tunnel %08x: cannot reopen ESP-in-UDP port %u; "
					"it receives nothing until deleted and made again",
					t->h.reqid, t->h.local_port);
		}
		log_info("tunnel %08x to %s found again: %s <-> %s, %s", t->h.reqid,
			 tun_ip4(t->h.remote, b1), tun_ip4(t->h.local_ov, b2),
			 tun_ip4(t->h.remote_ov, b3),
			 t->h.encap == TUNNEL_ENCAP_UDP ? "ESP-in-UDP" : "ESP");
	}
	free(v);
}

int tunnels_start(struct daemon *d, const struct tunnels_options *o)
{
	int r;

	T = calloc(1, sizeof(*T));
	if (!T)
		return -ENOMEM;
	T->d = d;
	T->rekey_sec = o->rekey_sec ?: TUNNEL_REKEY_DEFAULT;
	T->port_min = o->port_min ?: TUNNEL_ENCAP_PORT_MIN_DEFAULT;
	T->port_max = o->port_max ?: TUNNEL_ENCAP_PORT_MAX_DEFAULT;
	r = overlay_cidr_parse(o->cidr ?: OVERLAY_CIDR_DEFAULT, &T->cidr);
	if (r < 0) {
		log_error(
			"--tunnel-cidr '%s': expected A.B.C.D/N with 8 <= N <= 30 and no host bits",
			o->cidr);
		goto fail;
	}
	r = tunnel_nl_open(-1, &T->nl);
	if (r < 0) {
		log_warning_errno(r, "cannot open netlink for xfrm: tunnels are not available");
		goto fail;
	}
	discover();
	r = sd_event_add_time_relative(d->event, &T->timer, CLOCK_MONOTONIC, 1000000, 100000,
				       on_tick, NULL);
	if (r < 0) {
		log_error_errno(r, "cannot arm the tunnel timer");
		goto fail;
	}
	chain_tunnel_set_provider(&tun_chain_provider);
	return 0;
fail:
	tunnels_stop();
	return r;
}

void tunnels_stop(void)
{
	if (!T)
		return;
	chain_tunnel_set_provider(NULL);
	while (T->dels)
		tun_del_finish(T->dels, NULL);
	while (T->list) {
		struct tun *t = T->list;

		T->list = t->next;
		if (t->state == TUN_PREPARED) /* nothing in the kernel yet */
			log_debug("tunnel %08x: dropping a prepared half", t->h.reqid);
		else if (t->state == TUN_CREATING) { /* the peer may hold its half: take ours out */
			(void)tunnel_remove(T->nl, &t->h);
			tun_send_delete(t);
		}
		while (t->waiters) {
			struct tunnels_wait *w = t->waiters;

			t->waiters = w->next;
			tun_notify(w, -ECANCELED, "wormholed is stopping", t);
			tun_waiter_free(w);
		}
		tun_free(t);
	}
	T->timer = sd_event_source_disable_unref(T->timer);
	T->nl = tunnel_nl_free(T->nl);
	free(T);
	T = NULL;
}
