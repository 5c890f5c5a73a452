/* SPDX-License-Identifier: MIT */
/*
 * overlay.c - overlay CIDR, addresses on lo and the overlay routes, with libnl-route
 *
 * Address and route lists are read through fresh libnl caches on each call: tunnels are few and
 * created rarely, so nothing is kept that could go stale.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>

#include "cleanup.h"
#include "overlay.h"
#include "tunnel-nl.h"

DEFINE_POINTER_CLEANUP(struct nl_addr *, nl_addr_put)
DEFINE_POINTER_CLEANUP(struct nl_cache *, nl_cache_free)
DEFINE_POINTER_CLEANUP(struct rtnl_addr *, rtnl_addr_put)
DEFINE_POINTER_CLEANUP(struct rtnl_route *, rtnl_route_put)

#define OVERLAY_ROUTE_MTU 1400

int overlay_cidr_parse(const char *s, struct overlay_cidr *ret)
{
	char buf[INET_ADDRSTRLEN + 4], *slash, *end;
	struct in_addr a;
	unsigned long p;
	uint32_t mask;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	errno = 0;
	p = strtoul(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end || p < 8 || p > 30)
		return -EINVAL;
	mask = htonl(~0u << (32 - p));
	if (a.s_addr & ~mask)
		return -EINVAL;
	*ret = (struct overlay_cidr){ .net = a, .prefix = (unsigned)p };
	return 0;
}

bool overlay_cidr_contains(const struct overlay_cidr *c, struct in_addr a)
{
	uint32_t mask = htonl(~0u << (32 - c->prefix));

	return (a.s_addr & mask) == c->net.s_addr;
}

static struct nl_addr *addr4(struct in_addr a, int prefixlen)
{
	struct nl_addr *n = nl_addr_build(AF_INET, &a, sizeof(a));

	if (n)
		nl_addr_set_prefixlen(n, prefixlen);
	return n;
}

struct addr_scan {
	struct in_addr want;
	int ifindex; /* 0: any */
	int found;   /* ifindex where found, 0 if not */
};

static void scan_one(struct nl_object *o, void *userdata)
{
	struct addr_scan *sc = userdata;
	struct rtnl_addr *a = (struct rtnl_addr *)o;
	struct nl_addr *local = rtnl_addr_get_local(a);

	if (sc->found || !local || nl_addr_get_family(local) != AF_INET ||
	    nl_addr_get_len(local) != sizeof(struct in_addr))
		return;
	if (memcmp(nl_addr_get_binary_addr(local), &sc->want, sizeof(sc->want)) != 0)
		return;
	if (sc->ifindex && rtnl_addr_get_ifindex(a) != sc->ifindex)
		return;
	sc->found = rtnl_addr_get_ifindex(a);
}

static int addr_find(struct tunnel_nl *nl, struct in_addr a, int ifindex)
{
	_cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
	struct addr_scan sc = { .want = a, .ifindex = ifindex };
	int r;

	tunnel_nl_begin(nl);
	r = rtnl_addr_alloc_cache(nl->route, &cache);
	if (r < 0)
		return tunnel_nl_err(nl, r);
	nl_cache_foreach(cache, scan_one, &sc);
	return sc.found;
}

int overlay_has_addr(struct tunnel_nl *nl, struct in_addr a, int ifindex)
{
	int r = addr_find(nl, a, ifindex);

	return r < 0 ? r : r > 0;
}

int overlay_ifindex_of(struct tunnel_nl *nl, struct in_addr a)
{
	int r = addr_find(nl, a, 0);

	return r == 0 ? -EADDRNOTAVAIL : r;
}

int overlay_check(struct tunnel_nl *nl, struct in_addr a, struct in_addr b)
{
	int r;

	r = overlay_has_addr(nl, a, 0);
	if (r == 0)
		r = overlay_has_addr(nl, b, 0);
	if (r < 0)
		return r;
	return r ? -EADDRINUSE : 0;
}

static bool usable(const struct overlay_cidr *c, struct in_addr a, const struct in_addr *avoid,
		   size_t n)
{
	uint32_t host = ntohl(a.s_addr) & ~(~0u << (32 - c->prefix));

	if (host == 0 || host == ~(~0u << (32 - c->prefix)))
		return false; /* network or broadcast address */
	for (size_t i = 0; i < n; i++)
		if (avoid[i].s_addr == a.s_addr)
			return false;
	return true;
}

int overlay_pick(struct tunnel_nl *nl, const struct overlay_cidr *c, const struct in_addr *avoid,
		 size_t n, struct in_addr *ret_local, struct in_addr *ret_remote)
{
	uint32_t hostmask = ~(~0u << (32 - c->prefix));

	for (int tries = 0; tries < 64; tries++) {
		uint32_t rnd[2];
		struct in_addr a, b;
		int r;

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return errno ? -errno : -EIO;
		a.s_addr = htonl(ntohl(c->net.s_addr) | (rnd[0] & hostmask));
		b.s_addr = htonl(ntohl(c->net.s_addr) | (rnd[1] & hostmask));
		if (a.s_addr == b.s_addr || !usable(c, a, avoid, n) || !usable(c, b, avoid, n))
			continue;
		r = overlay_check(nl, a, b);
		if (r == -EADDRINUSE)
			continue;
		if (r < 0)
			return r;
		*ret_local = a;
		*ret_remote = b;
		return 0;
	}
	return -EADDRNOTAVAIL;
}

static int lo_addr(struct tunnel_nl *nl, struct in_addr a, bool add)
{
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *ra = rtnl_addr_alloc();
	_cleanup_(nl_addr_putp) struct nl_addr *na = addr4(a, 32);
	int r;

	if (!ra || !na)
		return -ENOMEM;
	rtnl_addr_set_ifindex(ra, OVERLAY_LO_IFINDEX);
	rtnl_addr_set_family(ra, AF_INET);
	r = rtnl_addr_set_local(ra, na);
	if (r < 0)
		return nle_to_errno(r);
	rtnl_addr_set_prefixlen(ra, 32);
	rtnl_addr_set_scope(ra, RT_SCOPE_HOST);
	tunnel_nl_begin(nl);
	r = add ? rtnl_addr_add(nl->route, ra, NLM_F_CREATE | NLM_F_EXCL)
		: rtnl_addr_delete(nl->route, ra, 0);
	return tunnel_nl_err(nl, r);
}

int overlay_addr_add(struct tunnel_nl *nl, struct in_addr a)
{
	return lo_addr(nl, a, true);
}

int overlay_addr_del(struct tunnel_nl *nl, struct in_addr a)
{
	return lo_addr(nl, a, false);
}

static int route_new(struct in_addr dst, struct rtnl_route **ret)
{
	_cleanup_(rtnl_route_putp) struct rtnl_route *rt = rtnl_route_alloc();
	_cleanup_(nl_addr_putp) struct nl_addr *d = addr4(dst, 32);
	int r;

	if (!rt || !d)
		return -ENOMEM;
	(void)rtnl_route_set_family(rt, AF_INET);
	r = rtnl_route_set_dst(rt, d);
	if (r < 0)
		return nle_to_errno(r);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_scope(rt, RT_SCOPE_LINK);
	*ret = TAKE_PTR(rt);
	return 0;
}

int overlay_route_add(struct tunnel_nl *nl, struct in_addr dst, struct in_addr src, int ifindex)
{
	_cleanup_(rtnl_route_putp) struct rtnl_route *rt = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *s = addr4(src, 32);
	struct rtnl_nexthop *nh;
	int r;

	if (!s)
		return -ENOMEM;
	r = route_new(dst, &rt);
	if (r < 0)
		return r;
	r = rtnl_route_set_pref_src(rt, s);
	if (r < 0)
		return nle_to_errno(r);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	/* The route goes through lo (MTU 65536), so without a metric TCP would size its segments
	 * for lo and every one would need fragmenting after ESP: with ESP-in-UDP a transfer could
	 * stall on that (seen in the VM). Room for the outer IPv4 and UDP headers, the ESP header,
	 * IV, padding and a 16-byte ICV on a 1500-byte underlay, with margin. */
	r = rtnl_route_set_metric(rt, RTAX_MTU, OVERLAY_ROUTE_MTU);
	if (r < 0)
		return nle_to_errno(r);
	nh = rtnl_route_nh_alloc();
	if (!nh)
		return -ENOMEM;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(rt, nh); /* the route owns it now */
	tunnel_nl_begin(nl);
	return tunnel_nl_err(nl, rtnl_route_add(nl->route, rt, NLM_F_CREATE | NLM_F_EXCL));
}

int overlay_route_del(struct tunnel_nl *nl, struct in_addr dst)
{
	_cleanup_(rtnl_route_putp) struct rtnl_route *rt = NULL;
	int r;

	r = route_new(dst, &rt);
	if (r < 0)
		return r;
	tunnel_nl_begin(nl);
	return tunnel_nl_err(nl, rtnl_route_delete(nl->route, rt, 0));
}

struct route_scan {
	struct in_addr want;
	bool found;
};

static void route_one(struct nl_object *o, void *userdata)
{
	struct route_scan *sc = userdata;
	struct rtnl_route *rt = (struct rtnl_route *)o;
	struct nl_addr *d = rtnl_route_get_dst(rt);

	if (!d || nl_addr_get_family(d) != AF_INET || nl_addr_get_prefixlen(d) != 32 ||
	    rtnl_route_get_table(rt) != RT_TABLE_MAIN)
		return;
	if (memcmp(nl_addr_get_binary_addr(d), &sc->want, sizeof(sc->want)) == 0)
		sc->found = true;
}

int overlay_route_exists(struct tunnel_nl *nl, struct in_addr dst)
{
	_cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
	struct route_scan sc = { .want = dst };
	int r;

	tunnel_nl_begin(nl);
	r = rtnl_route_alloc_cache(nl->route, AF_INET, 0, &cache);
	if (r < 0)
		return tunnel_nl_err(nl, r);
	nl_cache_foreach(cache, route_one, &sc);
	return sc.found;
}
