/* SPDX-License-Identifier: MIT */
/*
 * overlay.h - the overlay addresses of tunnels: a shared CIDR, one /32 per end on `lo`
 *
 * Both hosts share one CIDR (default 100.64.0.0/14, the original's effective range). The
 * initiator picks a random pair from it that is on no interface of its own host and on no tunnel
 * it knows; the peer checks the pair against its own addresses before it installs anything
 * (overlay_check(), -EADDRINUSE on a collision). Our /32 goes on `lo`; a route
 * `<peer's /32> dev <uplink> src <our /32> scope link` makes the kernel pick our overlay address
 * as the source, so the traffic matches the tunnel's policy. The uplink is the device that holds
 * our underlay address.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

struct tunnel_nl;

#define OVERLAY_CIDR_DEFAULT "100.64.0.0/14"

struct overlay_cidr {
	struct in_addr net; /* network address, host bits zero */
	unsigned prefix;    /* 8..30 */
};

/**
 * overlay_cidr_parse() - Parse "A.B.C.D/N" (IPv4, 8 <= N <= 30, host bits must be zero)
 *
 * Return: 0, or -EINVAL
 */
int overlay_cidr_parse(const char *s, struct overlay_cidr *ret);

/**
 * overlay_cidr_contains() - Whether @a lies in @c
 */
bool overlay_cidr_contains(const struct overlay_cidr *c, struct in_addr a);

/**
 * overlay_pick() - Pick a random unused pair of overlay addresses from @c
 * @nl:		this host's sockets (borrowed): addresses already on any interface are avoided
 * @c:		the CIDR
 * @avoid:	@n more addresses to avoid (e.g. the overlays of known tunnels), may be NULL
 * @ret_local, @ret_remote:	the pair (distinct; never the network or broadcast address)
 *
 * Return: 0, -EADDRNOTAVAIL when 64 random tries found no free pair, or a negative errno
 */
int overlay_pick(struct tunnel_nl *nl, const struct overlay_cidr *c, const struct in_addr *avoid,
		 size_t n, struct in_addr *ret_local, struct in_addr *ret_remote);

/**
 * overlay_check() - Fail if @a or @b is already an address of any interface on this host
 *
 * Return: 0, -EADDRINUSE, or a negative errno
 */
int overlay_check(struct tunnel_nl *nl, struct in_addr a, struct in_addr b);

/**
 * overlay_has_addr() - Whether @a is on interface @ifindex (0: on any interface)
 *
 * Return: 1, 0, or a negative errno
 */
int overlay_has_addr(struct tunnel_nl *nl, struct in_addr a, int ifindex);

/**
 * overlay_ifindex_of() - The interface that holds address @a
 *
 * Return: its ifindex (> 0), -EADDRNOTAVAIL if no interface has it, or a negative errno
 */
int overlay_ifindex_of(struct tunnel_nl *nl, struct in_addr a);

#define OVERLAY_LO_IFINDEX 1 /* the kernel always gives lo ifindex 1 in every namespace */

/**
 * overlay_addr_add() - Put @a/32 on lo
 *
 * Return: 0, -EEXIST if it is there already, or a negative errno
 */
int overlay_addr_add(struct tunnel_nl *nl, struct in_addr a);

/**
 * overlay_addr_del() - Remove @a/32 from lo
 *
 * Return: 0, -ENOENT (or -EADDRNOTAVAIL) if it was not there, or a negative errno
 */
int overlay_addr_del(struct tunnel_nl *nl, struct in_addr a);

/**
 * overlay_route_add() - Add `@dst/32 dev @ifindex src @src scope link`
 *
 * Return: 0, -EEXIST, or a negative errno
 */
int overlay_route_add(struct tunnel_nl *nl, struct in_addr dst, struct in_addr src, int ifindex);

/**
 * overlay_route_del() - Remove the route to @dst/32 added by overlay_route_add()
 *
 * Return: 0, -ESRCH/-ENOENT if there was none, or a negative errno
 */
int overlay_route_del(struct tunnel_nl *nl, struct in_addr dst);

/**
 * overlay_route_exists() - Whether a main-table route to exactly @dst/32 exists
 *
 * Return: 1, 0, or a negative errno
 */
int overlay_route_exists(struct tunnel_nl *nl, struct in_addr dst);
