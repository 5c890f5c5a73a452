/* SPDX-License-Identifier: MIT */
/*
 * tunnel.h - one half of a kernel IPsec tunnel: install, remove, rekey, find again, count
 *
 * tunnel_install() puts a half into this host's kernel in an order that never lets traffic out
 * before it can come back: our overlay /32 on lo, the inbound SA, the outbound SA, the inbound
 * and outbound policies, and last the route that sends traffic for the peer's overlay address
 * into the tunnel. Any failure removes what was installed, in reverse. tunnel_remove() removes
 * every part of a half that is there (and every SA with its reqid, old ones from a rekey too),
 * and is quiet about parts already gone, so it also cleans partial tunnels.
 *
 * Rekeying never stops traffic. With fresh SAs n_ab (A->B) and n_ba (B->A) made by the
 * initiator A, the steps are, in order:
 *   A: tunnel_sa_add(IN, n_ba)
 *   B: tunnel_sa_add(IN, n_ab), tunnel_sa_add(OUT, n_ba), tunnel_sa_del(OUT, old)
 *   A: tunnel_sa_add(OUT, n_ab), tunnel_sa_del(OUT, old)
 *   after TUNNEL_REKEY_GRACE_SEC: A and B tunnel_sa_del(IN, old)
 * Each receiver holds the new inbound SA before its sender can use it; the kernel picks the
 * newest valid SA for new flows, and a flow bound to a deleted SA re-resolves to the new one;
 * packets still in flight under the old SPI find the old inbound SA until the grace ends.
 * tunnel_rekey_due() says when: the soft time limit, or the sequence number nearing 2^32.
 *
 * Tunnels persist when the daemon exits (the kernel keeps them). tunnel_discover() finds them
 * again from the kernel's SAs and policies (our reqids: TUNNEL_REQID_BASE | n), the addresses on
 * lo and the routes, keys included, and says which are complete.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tunnel-half.h"
#include "xfrm-msg.h"

struct tunnel_nl;

#define TUNNEL_REKEY_GRACE_SEC 2

/**
 * tunnel_install() - Install a half in the kernel behind @nl, all or nothing
 * @nl:		sockets of the host (borrowed)
 * @h:		the half (borrowed); h->local must be an address of this host (its device
 *		carries the overlay route)
 * @ret_step:	if not NULL, set on failure to the name of the step that failed ("inbound SA")
 *
 * For ESP-in-UDP the caller holds the encap socket on h->local_port (espinudp_open()).
 *
 * Return: 0, or the negative errno of the failed step (then nothing of @h is left)
 */
int tunnel_install(struct tunnel_nl *nl, const struct tunnel_half *h, const char **ret_step);

/**
 * tunnel_remove() - Remove every part of @h that is there; parts already gone are no error
 *
 * Return: 0, or the first negative errno other than "not there" (removal goes on after it)
 */
int tunnel_remove(struct tunnel_nl *nl, const struct tunnel_half *h);

/**
 * tunnel_sa_add() - Install one more SA of @h in direction @dir (rekeying)
 * @sa:		SPI and key (borrowed)
 *
 * Return: 0, -EEXIST if the SPI is taken, or a negative errno
 */
int tunnel_sa_add(struct tunnel_nl *nl, const struct tunnel_half *h, enum tunnel_dir dir,
		  const struct tunnel_sa *sa);

/**
 * tunnel_sa_del() - Delete the SA of @h in direction @dir with SPI @spi
 *
 * Return: 0, -ESRCH/-ENOENT if there is none, or a negative errno
 */
int tunnel_sa_del(struct tunnel_nl *nl, const struct tunnel_half *h, enum tunnel_dir dir,
		  uint32_t spi);

struct tunnel_counters {
	uint64_t out_bytes, out_packets; /* over all current outbound SAs of the tunnel */
	uint64_t in_bytes, in_packets;
	uint64_t out_newest_add_time; /* add time (s since epoch) of the newest outbound SA */
	uint64_t out_newest_packets;  /* packets sent with it (its sequence number) */
	unsigned n_out, n_in;	      /* how many SAs each way (2 during a rekey) */
};

/**
 * tunnel_counters() - Read the kernel's counters of @h's SAs
 *
 * Return: 0, or a negative errno
 */
int tunnel_counters(struct tunnel_nl *nl, const struct tunnel_half *h, struct tunnel_counters *ret);

/**
 * tunnel_rekey_due() - Whether @h's outbound SA should be replaced now
 * @c:		counters from tunnel_counters()
 * @now:	wall-clock time (the kernel's add time is wall-clock seconds)
 *
 * Return: true when h->rekey_sec > 0 and the newest outbound SA is that old, or when its packet
 * count passed TUNNEL_SOFT_PACKETS
 */
bool tunnel_rekey_due(const struct tunnel_half *h, const struct tunnel_counters *c, time_t now);

enum {
	TUNNEL_HAS_ADDR = 1 << 0,
	TUNNEL_HAS_ROUTE = 1 << 1,
	TUNNEL_HAS_SA_OUT = 1 << 2,
	TUNNEL_HAS_SA_IN = 1 << 3,
	TUNNEL_HAS_SP_OUT = 1 << 4,
	TUNNEL_HAS_SP_IN = 1 << 5,
	TUNNEL_HAS_ALL = (1 << 6) - 1,
};

struct tunnel_found {
	struct tunnel_half h; /* what could be learnt; SPIs/keys of the newest SA each way */
	unsigned has;	      /* TUNNEL_HAS_* */
};

/**
 * tunnel_discover() - Find the halves of our tunnels in the kernel behind @nl
 * @ret:	array of @ret_n entries, owned by the caller (free() after tunnel_half_wipe())
 *
 * A tunnel is known by its reqid; it is complete when has == TUNNEL_HAS_ALL.
 *
 * Return: 0, or a negative errno
 */
int tunnel_discover(struct tunnel_nl *nl, struct tunnel_found **ret, size_t *ret_n);

/**
 * tunnel_reqid_pick() - A random reqid of ours (TUNNEL_REQID_BASE | n, n != 0) that no SA or
 * policy on this host uses
 *
 * Return: 0, -EADDRNOTAVAIL after 64 tries, or a negative errno
 */
int tunnel_reqid_pick(struct tunnel_nl *nl, uint32_t *ret);

/**
 * tunnel_reqid_in_use() - Whether an SA or policy on this host uses @reqid
 *
 * Return: 1, 0, or a negative errno
 */
int tunnel_reqid_in_use(struct tunnel_nl *nl, uint32_t reqid);
