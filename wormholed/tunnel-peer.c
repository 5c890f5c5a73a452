/* SPDX-License-Identifier: MIT */
/*
 * tunnel-peer.c - the peer's side of a tunnel, the requests that come over a peer link:
 * tunnel-prepare (check the addresses and reqid, reserve them and an encap port in a PREPARED
 * entry), tunnel-install (install the keys into the kernel; tunnel_install() rolls back) and the
 * two steps of tunnel-rekey; and tun_remove(), which takes any tunnel out of the kernel and the
 * registry.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espinudp.h"
#include "log.h"
#include "time-util.h"
#include "tunnels-internal.h"
#include "url.h"

/* ---- the peer's side ------------------------------------------------------------------------- */

void tun_remove(struct tun *t, const char *why)
{
	char b[INET_ADDRSTRLEN];
	int r = 0;

	if (t->state == TUN_UP || t->state == TUN_CREATING)
		r = tunnel_remove(T->nl, &t->h);
	if (r < 0)
		log_warning_errno(r, "tunnel %08x to %s: removing it", t->h.reqid,
				  tun_ip4(t->h.remote, b));
	else
		log_info("tunnel %08x to %s removed (%s)", t->h.reqid, tun_ip4(t->h.remote, b),
			 why);
	while (t->waiters) {
		struct tunnels_wait *w = t->waiters;

		t->waiters = w->next;
		tun_notify(w, -ECANCELED, "the tunnel was deleted meanwhile", t);
		tun_waiter_free(w);
	}
	tun_unlink(t);
	tun_free(t);
}

int tun_on_prepare(const struct ctl_tunnel *ct, char **reterr)
{
	struct tunnel_half h;
	struct tun *t, *old;
	int r;

	r = tun_ctl_to_half(ct, false, &h, reterr);
	if (r < 0)
		return r;
	r = overlay_ifindex_of(T->nl, h.local);
	if (r < 0)
		return ERRMSG_FAIL(reterr, "%s is not an address of this host", ct->local);
	if (!overlay_cidr_contains(&T->cidr, h.local_ov) ||
	    !overlay_cidr_contains(&T->cidr, h.remote_ov))
		return ERRMSG_FAIL(reterr,
				   "overlay addresses %s, %s are outside this host's overlay CIDR "
				   "(--tunnel-cidr must be the same on both hosts)",
				   ct->local_ov, ct->remote_ov);
	old = tun_by_remote(h.remote);
	if (old && old->state == TUN_CREATING)
		return ERRMSG_RET(reterr, -EBUSY, "this host is creating a tunnel to %s right now",
				  ct->remote);
	if (old) /* the initiator has none (it would have reused it): ours is stale */
		tun_remove(old, "replaced by a new tunnel from the same peer");
	for (struct tun *x = T->list; x; x = x->next)
		if (x->h.local_ov.s_addr == h.local_ov.s_addr ||
		    x->h.local_ov.s_addr == h.remote_ov.s_addr ||
		    x->h.remote_ov.s_addr == h.local_ov.s_addr ||
		    x->h.remote_ov.s_addr == h.remote_ov.s_addr)
			return ERRMSG_RET(reterr, -EADDRINUSE,
					  "overlay address %s or %s is in use by another tunnel",
					  ct->local_ov, ct->remote_ov);
	r = overlay_check(T->nl, h.local_ov, h.remote_ov);
	if (r < 0)
		return ERRMSG_RET(reterr, r, "overlay address %s or %s: %s", ct->local_ov,
				  ct->remote_ov, strerror(-r));
	r = tunnel_reqid_in_use(T->nl, h.reqid);
	if (r != 0)
		return ERRMSG_RET(reterr, r > 0 ? -EADDRINUSE : r, "reqid %08x is in use", h.reqid);
	t = tun_new();
	if (!t)
		return -ENOMEM;
	t->h = h;
	t->state = TUN_PREPARED;
	if (asprintf(&t->peer_name, "%s:%d", ct->remote, PEER_DEFAULT_PORT) < 0) {
		t->peer_name = NULL;
		tun_unlink(t);
		tun_free(t);
		return -ENOMEM;
	}
	t->deadline = (now_usec() / USEC_PER_SEC) + PREPARED_SEC;
	if (h.encap == TUNNEL_ENCAP_UDP) {
		t->encap_fd = espinudp_open(-1, T->port_min, T->port_max, &t->h.local_port);
		if (t->encap_fd < 0) {
			r = ERRMSG_RET(reterr, t->encap_fd, "ESP-in-UDP port from %u-%u: %s",
				       T->port_min, T->port_max, strerror(-t->encap_fd));
			tun_unlink(t);
			tun_free(t);
			return r;
		}
	}
	return 0;
}

int tun_on_install(const struct ctl_tunnel *ct, char **reterr)
{
	struct tunnel_half h;
	const char *step = NULL;
	struct tun *t;
	int r;

	r = tun_ctl_to_half(ct, true, &h, reterr);
	if (r < 0)
		return r;
	t = tun_by_reqid(h.reqid);
	if (!t || t->state != TUN_PREPARED || t->h.remote.s_addr != h.remote.s_addr ||
	    t->h.local_ov.s_addr != h.local_ov.s_addr ||
	    t->h.remote_ov.s_addr != h.remote_ov.s_addr || t->h.encap != h.encap ||
	    (h.encap == TUNNEL_ENCAP_UDP && t->h.local_port != h.local_port)) {
		tunnel_half_wipe(&h);
		return ERRMSG_FAIL(reterr, "tunnel %08x: no prepared half matches", h.reqid);
	}
	t->h.out = h.out;
	t->h.in = h.in;
	t->h.remote_port = h.remote_port;
	t->h.rekey_sec = h.rekey_sec;
	tunnel_half_wipe(&h);
	r = tunnel_install(T->nl, &t->h, &step);
	if (r < 0) {
		(void)ERRMSG_RET(reterr, r, "installing tunnel %08x: %s: %s", t->h.reqid,
				 step ?: "?", strerror(-r));
		log_notice("%s", *reterr);
		tun_unlink(t);
		tun_free(t);
		return r;
	}
	tun_create_done(t);
	return 0;
}

int tun_on_rekey(const struct ctl_tunnel *ct, uint64_t step, char **reterr)
{
	struct tunnel_sa in = { 0 }, out = { 0 };
	struct tun *t = tun_by_reqid((uint32_t)ct->reqid);
	int r;

	if (!t || t->state != TUN_UP)
		return ERRMSG_FAIL(reterr, "no tunnel %08llx here", (unsigned long long)ct->reqid);
	if (step == 2) {
		if (t->old_in_spi)
			(void)tunnel_sa_del(T->nl, &t->h, TUNNEL_DIR_IN, t->old_in_spi);
		t->old_in_spi = 0;
		return 0;
	}
	if (ct->in_spi < 256 || ct->in_spi > UINT32_MAX || ct->out_spi < 256 ||
	    ct->out_spi > UINT32_MAX || tun_unhex_key(ct->in_key, in.key) < 0 ||
	    tun_unhex_key(ct->out_key, out.key) < 0)
		return ERRMSG_FAIL(reterr, "tunnel-rekey: bad SPIs or keys");
	in.spi = (uint32_t)ct->in_spi;
	out.spi = (uint32_t)ct->out_spi;
	r = tunnel_sa_add(T->nl, &t->h, TUNNEL_DIR_IN, &in);
	if (r >= 0) {
		r = tunnel_sa_add(T->nl, &t->h, TUNNEL_DIR_OUT, &out);
		if (r < 0)
			(void)tunnel_sa_del(T->nl, &t->h, TUNNEL_DIR_IN, in.spi);
	}
	if (r < 0) {
		explicit_bzero(&in, sizeof(in));
		explicit_bzero(&out, sizeof(out));
		return ERRMSG_RET(reterr, r, "tunnel-rekey: new SAs: %s", strerror(-r));
	}
	(void)tunnel_sa_del(T->nl, &t->h, TUNNEL_DIR_OUT, t->h.out.spi);
	if (t->old_in_spi) /* a step 2 that never came */
		(void)tunnel_sa_del(T->nl, &t->h, TUNNEL_DIR_IN, t->old_in_spi);
	t->old_in_spi = t->h.in.spi;
	t->h.in = in;
	t->h.out = out;
	t->rekeys++;
	explicit_bzero(&in, sizeof(in));
	explicit_bzero(&out, sizeof(out));
	log_debug("tunnel %08x: rekeyed by the peer", t->h.reqid);
	return 0;
}
