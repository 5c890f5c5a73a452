/* SPDX-License-Identifier: MIT */
/*
 * tunnel.c - install, remove, rekey, rediscover one half of a tunnel (see tunnel.h)
 *
 * Every kernel request goes through libnl on the half's struct tunnel_nl; results are converted
 * with tunnel_nl_err() right where they come back. Installation undoes itself with forward gotos,
 * one label per installed part (STYLE §4).
 */
#include <errno.h>
#include <linux/xfrm.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/xfrm/lifetime.h>
#include <netlink/xfrm/sa.h>
#include <netlink/xfrm/selector.h>
#include <netlink/xfrm/sp.h>
#include <netlink/xfrm/template.h>

#include "cleanup.h"
#include "overlay.h"
#include "tunnel-nl.h"
#include "tunnel.h"

DEFINE_POINTER_CLEANUP(struct xfrmnl_sa *, xfrmnl_sa_put)
DEFINE_POINTER_CLEANUP(struct xfrmnl_sp *, xfrmnl_sp_put)
DEFINE_POINTER_CLEANUP(struct nl_cache *, nl_cache_free)

static bool gone(int r)
{
	return r == -ENOENT || r == -ESRCH || r == -EADDRNOTAVAIL;
}

int tunnel_sa_add(struct tunnel_nl *nl, const struct tunnel_half *h, enum tunnel_dir dir,
		  const struct tunnel_sa *sa)
{
	_cleanup_(xfrmnl_sa_putp) struct xfrmnl_sa *o = NULL;
	int r;

	r = xfrm_msg_sa(h, dir, sa, &o);
	if (r < 0)
		return r;
	tunnel_nl_begin(nl);
	return tunnel_nl_err(nl, xfrmnl_sa_add(nl->xfrm, o, NLM_F_CREATE | NLM_F_EXCL));
}

int tunnel_sa_del(struct tunnel_nl *nl, const struct tunnel_half *h, enum tunnel_dir dir,
		  uint32_t spi)
{
	_cleanup_(xfrmnl_sa_putp) struct xfrmnl_sa *o = NULL;
	int r;

	r = xfrm_msg_sa_id(h, dir, spi, &o);
	if (r < 0)
		return r;
	tunnel_nl_begin(nl);
	return tunnel_nl_err(nl, xfrmnl_sa_delete(nl->xfrm, o, 0));
}

static int sp_add_del(struct tunnel_nl *nl, const struct tunnel_half *h, enum tunnel_dir dir,
		      bool add)
{
	_cleanup_(xfrmnl_sp_putp) struct xfrmnl_sp *o = NULL;
	int r;

	r = xfrm_msg_sp(h, dir, &o);
	if (r < 0)
		return r;
	tunnel_nl_begin(nl);
	r = add ? xfrmnl_sp_add(nl->xfrm, o, NLM_F_CREATE | NLM_F_EXCL)
		: xfrmnl_sp_delete(nl->xfrm, o, 0);
	return tunnel_nl_err(nl, r);
}

int tunnel_install(struct tunnel_nl *nl, const struct tunnel_half *h, const char **ret_step)
{
	const char *step;
	int ifindex, r;

	step = "uplink";
	r = ifindex = overlay_ifindex_of(nl, h->local);
	if (r < 0)
		goto out;
	step = "overlay address";
	r = overlay_addr_add(nl, h->local_ov);
	if (r < 0)
		goto out;
	step = "inbound SA";
	r = tunnel_sa_add(nl, h, TUNNEL_DIR_IN, &h->in);
	if (r < 0)
		goto out_del_addr;
	step = "outbound SA";
	r = tunnel_sa_add(nl, h, TUNNEL_DIR_OUT, &h->out);
	if (r < 0)
		goto out_del_sa_in;
	step = "inbound policy";
	r = sp_add_del(nl, h, TUNNEL_DIR_IN, true);
	if (r < 0)
		goto out_del_sa_out;
	step = "outbound policy";
	r = sp_add_del(nl, h, TUNNEL_DIR_OUT, true);
	if (r < 0)
		goto out_del_sp_in;
	step = "overlay route";
	r = overlay_route_add(nl, h->remote_ov, h->local_ov, ifindex);
	if (r < 0)
		goto out_del_sp_out;
	return 0;

out_del_sp_out:
	(void)sp_add_del(nl, h, TUNNEL_DIR_OUT, false);
out_del_sp_in:
	(void)sp_add_del(nl, h, TUNNEL_DIR_IN, false);
out_del_sa_out:
	(void)tunnel_sa_del(nl, h, TUNNEL_DIR_OUT, h->out.spi);
out_del_sa_in:
	(void)tunnel_sa_del(nl, h, TUNNEL_DIR_IN, h->in.spi);
out_del_addr:
	(void)overlay_addr_del(nl, h->local_ov);
out:
	if (ret_step)
		*ret_step = step;
	return r;
}

static bool addr_is(struct nl_addr *a, struct in_addr want)
{
	return a && nl_addr_get_family(a) == AF_INET && nl_addr_get_len(a) == sizeof(want) &&
	       memcmp(nl_addr_get_binary_addr(a), &want, sizeof(want)) == 0;
}

static struct in_addr addr_of(struct nl_addr *a)
{
	struct in_addr r = { 0 };

	if (a && nl_addr_get_family(a) == AF_INET && nl_addr_get_len(a) == sizeof(r))
		memcpy(&r, nl_addr_get_binary_addr(a), sizeof(r));
	return r;
}

static int sa_cache(struct tunnel_nl *nl, struct nl_cache **ret)
{
	tunnel_nl_begin(nl);
	return tunnel_nl_err(nl, xfrmnl_sa_alloc_cache(nl->xfrm, ret));
}

static int sp_cache(struct tunnel_nl *nl, struct nl_cache **ret)
{
	tunnel_nl_begin(nl);
	return tunnel_nl_err(nl, xfrmnl_sp_alloc_cache(nl->xfrm, ret));
}

int tunnel_remove(struct tunnel_nl *nl, const struct tunnel_half *h)
{
	_cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
	int first = 0, r;

#define KEEP(expr)                                   \
	do {                                         \
		r = (expr);                          \
		if (r < 0 && !gone(r) && first == 0) \
			first = r;                   \
	} while (0)

	KEEP(overlay_route_del(nl, h->remote_ov));
	KEEP(sp_add_del(nl, h, TUNNEL_DIR_OUT, false));
	KEEP(sp_add_del(nl, h, TUNNEL_DIR_IN, false));
	/* every SA with our reqid, so old ones from an interrupted rekey go too */
	r = sa_cache(nl, &cache);
	if (r < 0) {
		KEEP(tunnel_sa_del(nl, h, TUNNEL_DIR_OUT, h->out.spi));
		KEEP(tunnel_sa_del(nl, h, TUNNEL_DIR_IN, h->in.spi));
	} else {
		for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
			struct xfrmnl_sa *sa = (struct xfrmnl_sa *)o;
			struct nl_addr *d = xfrmnl_sa_get_daddr(sa);

			if ((uint32_t)xfrmnl_sa_get_reqid(sa) != h->reqid ||
			    xfrmnl_sa_get_proto(sa) != IPPROTO_ESP)
				continue;
			if (addr_is(d, h->remote))
				KEEP(tunnel_sa_del(nl, h, TUNNEL_DIR_OUT,
						   (uint32_t)xfrmnl_sa_get_spi(sa)));
			else if (addr_is(d, h->local))
				KEEP(tunnel_sa_del(nl, h, TUNNEL_DIR_IN,
						   (uint32_t)xfrmnl_sa_get_spi(sa)));
		}
	}
	KEEP(overlay_addr_del(nl, h->local_ov));
#undef KEEP
	return first;
}

int tunnel_counters(struct tunnel_nl *nl, const struct tunnel_half *h, struct tunnel_counters *ret)
{
	_cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
	struct tunnel_counters c = { 0 };
	int r;

	r = sa_cache(nl, &cache);
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct xfrmnl_sa *sa = (struct xfrmnl_sa *)o;
		unsigned long long bytes, packets, add_time, use_time;
		struct nl_addr *d = xfrmnl_sa_get_daddr(sa);

		if ((uint32_t)xfrmnl_sa_get_reqid(sa) != h->reqid ||
		    xfrmnl_sa_get_curlifetime(sa, &bytes, &packets, &add_time, &use_time) < 0)
			continue;
		if (addr_is(d, h->remote)) {
			c.out_bytes += bytes;
			c.out_packets += packets;
			c.n_out++;
			if (add_time >= c.out_newest_add_time) {
				c.out_newest_add_time = add_time;
				c.out_newest_packets = packets;
			}
		} else if (addr_is(d, h->local)) {
			c.in_bytes += bytes;
			c.in_packets += packets;
			c.n_in++;
		}
	}
	*ret = c;
	return 0;
}

bool tunnel_rekey_due(const struct tunnel_half *h, const struct tunnel_counters *c, time_t now)
{
	if (c->n_out == 0)
		return false;
	if (c->out_newest_packets >= TUNNEL_SOFT_PACKETS)
		return true;
	return h->rekey_sec > 0 && (uint64_t)now >= c->out_newest_add_time + h->rekey_sec;
}

struct discover {
	struct tunnel_found *v;
	size_t n;
	uint64_t *sa_time_out, *sa_time_in; /* add time of the SA kept in v[i], per direction */
};

static struct tunnel_found *found_get(struct discover *d, uint32_t reqid)
{
	struct tunnel_found *nv;
	uint64_t *to, *ti;

	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].h.reqid == reqid)
			return &d->v[i];
	nv = realloc(d->v, (d->n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	d->v = nv;
	to = realloc(d->sa_time_out, (d->n + 1) * sizeof(*to));
	if (!to)
		return NULL;
	d->sa_time_out = to;
	ti = realloc(d->sa_time_in, (d->n + 1) * sizeof(*ti));
	if (!ti)
		return NULL;
	d->sa_time_in = ti;
	d->v[d->n] = (struct tunnel_found){ .h.reqid = reqid };
	d->sa_time_out[d->n] = d->sa_time_in[d->n] = 0;
	return &d->v[d->n++];
}

static bool ours(uint32_t reqid)
{
	return (reqid & TUNNEL_REQID_MASK) == TUNNEL_REQID_BASE && reqid != TUNNEL_REQID_BASE;
}

static int discover_policies(struct tunnel_nl *nl, struct discover *d)
{
	_cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
	int r;

	r = sp_cache(nl, &cache);
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct xfrmnl_sp *sp = (struct xfrmnl_sp *)o;
		struct xfrmnl_user_tmpl *t = xfrmnl_sp_usertemplate_n(sp, 0);
		struct xfrmnl_sel *sel = xfrmnl_sp_get_sel(sp);
		struct tunnel_found *f;
		int dir = xfrmnl_sp_get_dir(sp);

		if (!t || !sel || !ours((uint32_t)xfrmnl_user_tmpl_get_reqid(t)))
			continue;
		if (dir != XFRM_POLICY_OUT && dir != XFRM_POLICY_IN)
			continue;
		f = found_get(d, (uint32_t)xfrmnl_user_tmpl_get_reqid(t));
		if (!f)
			return -ENOMEM;
		if (dir == XFRM_POLICY_OUT) {
			f->has |= TUNNEL_HAS_SP_OUT;
			f->h.local_ov = addr_of(xfrmnl_sel_get_saddr(sel));
			f->h.remote_ov = addr_of(xfrmnl_sel_get_daddr(sel));
			f->h.local = addr_of(xfrmnl_user_tmpl_get_saddr(t));
			f->h.remote = addr_of(xfrmnl_user_tmpl_get_daddr(t));
		} else {
			f->has |= TUNNEL_HAS_SP_IN;
			if (!(f->has & TUNNEL_HAS_SP_OUT)) {
				f->h.local_ov = addr_of(xfrmnl_sel_get_daddr(sel));
				f->h.remote_ov = addr_of(xfrmnl_sel_get_saddr(sel));
				f->h.local = addr_of(xfrmnl_user_tmpl_get_daddr(t));
				f->h.remote = addr_of(xfrmnl_user_tmpl_get_saddr(t));
			}
		}
	}
	return 0;
}

static void sa_fill(struct xfrmnl_sa *sa, struct tunnel_found *f, bool out)
{
	struct tunnel_sa *ts = out ? &f->h.out : &f->h.in;
	struct xfrmnl_ltime_cfg *lft = xfrmnl_sa_get_lifetime_cfg(sa);
	unsigned key_bits = 0, icv = 0, type = 0, sport = 0, dport = 0;
	struct nl_addr *oa = NULL;
	char alg[64] = "";

	ts->spi = (uint32_t)xfrmnl_sa_get_spi(sa);
	if (xfrmnl_sa_get_aead_params(sa, alg, &key_bits, &icv, NULL) == 0 &&
	    key_bits == TUNNEL_KEY_BYTES * 8)
		(void)xfrmnl_sa_get_aead_params(sa, alg, &key_bits, &icv, (char *)ts->key);
	if (lft)
		f->h.rekey_sec = (unsigned)xfrmnl_ltime_cfg_get_soft_addexpires(lft);
	if (xfrmnl_sa_get_encap_tmpl(sa, &type, &sport, &dport, &oa) == 0 &&
	    type == UDP_ENCAP_ESPINUDP) {
		f->h.encap = TUNNEL_ENCAP_UDP;
		f->h.local_port = (uint16_t)(out ? sport : dport);
		f->h.remote_port = (uint16_t)(out ? dport : sport);
	}
	if (oa)
		nl_addr_put(oa);
}

static int discover_sas(struct tunnel_nl *nl, struct discover *d)
{
	_cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
	int r;

	r = sa_cache(nl, &cache);
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct xfrmnl_sa *sa = (struct xfrmnl_sa *)o;
		unsigned long long bytes, packets, add_time = 0, use_time;
		uint32_t reqid = (uint32_t)xfrmnl_sa_get_reqid(sa);
		struct tunnel_found *f;
		size_t i;
		bool out;

		if (!ours(reqid) || xfrmnl_sa_get_proto(sa) != IPPROTO_ESP)
			continue;
		f = found_get(d, reqid);
		if (!f)
			return -ENOMEM;
		i = (size_t)(f - d->v);
		if (f->has & (TUNNEL_HAS_SP_OUT | TUNNEL_HAS_SP_IN)) {
			out = addr_is(xfrmnl_sa_get_daddr(sa), f->h.remote);
		} else {
			/* no policy left: an SA to an address of ours is inbound */
			r = overlay_has_addr(nl, addr_of(xfrmnl_sa_get_daddr(sa)), 0);
			if (r < 0)
				return r;
			out = r == 0;
			f->h.local =
				addr_of(out ? xfrmnl_sa_get_saddr(sa) : xfrmnl_sa_get_daddr(sa));
			f->h.remote =
				addr_of(out ? xfrmnl_sa_get_daddr(sa) : xfrmnl_sa_get_saddr(sa));
		}
		(void)xfrmnl_sa_get_curlifetime(sa, &bytes, &packets, &add_time, &use_time);
		if (out && (!(f->has & TUNNEL_HAS_SA_OUT) || add_time >= d->sa_time_out[i])) {
			f->has |= TUNNEL_HAS_SA_OUT;
			d->sa_time_out[i] = add_time;
			sa_fill(sa, f, true);
		} else if (!out && (!(f->has & TUNNEL_HAS_SA_IN) || add_time >= d->sa_time_in[i])) {
			f->has |= TUNNEL_HAS_SA_IN;
			d->sa_time_in[i] = add_time;
			sa_fill(sa, f, false);
		}
	}
	return 0;
}

int tunnel_discover(struct tunnel_nl *nl, struct tunnel_found **ret, size_t *ret_n)
{
	struct discover d = { 0 };
	int r;

	r = discover_policies(nl, &d);
	if (r >= 0)
		r = discover_sas(nl, &d);
	for (size_t i = 0; r >= 0 && i < d.n; i++) {
		struct tunnel_found *f = &d.v[i];

		if (f->h.local_ov.s_addr == 0)
			continue; /* no policy: the overlay addresses are unknown */
		r = overlay_has_addr(nl, f->h.local_ov, OVERLAY_LO_IFINDEX);
		if (r > 0)
			f->has |= TUNNEL_HAS_ADDR;
		if (r >= 0)
			r = overlay_route_exists(nl, f->h.remote_ov);
		if (r > 0)
			f->has |= TUNNEL_HAS_ROUTE;
	}
	free(d.sa_time_out);
	free(d.sa_time_in);
	if (r < 0) {
		for (size_t i = 0; i < d.n; i++)
			tunnel_half_wipe(&d.v[i].h);
		free(d.v);
		return r;
	}
	*ret = d.v;
	*ret_n = d.n;
	return 0;
}

int tunnel_reqid_in_use(struct tunnel_nl *nl, uint32_t reqid)
{
	_cleanup_(nl_cache_freep) struct nl_cache *sas = NULL, *sps = NULL;
	int r;

	r = sa_cache(nl, &sas);
	if (r >= 0)
		r = sp_cache(nl, &sps);
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(sas); o; o = nl_cache_get_next(o))
		if ((uint32_t)xfrmnl_sa_get_reqid((struct xfrmnl_sa *)o) == reqid)
			return 1;
	for (struct nl_object *o = nl_cache_get_first(sps); o; o = nl_cache_get_next(o)) {
		struct xfrmnl_sp *sp = (struct xfrmnl_sp *)o;

		for (int i = 0; i < xfrmnl_sp_get_nusertemplates(sp); i++) {
			struct xfrmnl_user_tmpl *t = xfrmnl_sp_usertemplate_n(sp, i);

			if (t && (uint32_t)xfrmnl_user_tmpl_get_reqid(t) == reqid)
				return 1;
		}
	}
	return 0;
}

int tunnel_reqid_pick(struct tunnel_nl *nl, uint32_t *ret)
{
	for (int tries = 0; tries < 64; tries++) {
		uint16_t n;
		int r;

		if (getrandom(&n, sizeof(n), 0) != (ssize_t)sizeof(n))
			return errno ? -errno : -EIO;
		if (n == 0)
			continue;
		r = tunnel_reqid_in_use(nl, TUNNEL_REQID_BASE | n);
		if (r < 0)
			return r;
		if (r == 0) {
			*ret = TUNNEL_REQID_BASE | n;
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}
