/* SPDX-License-Identifier: MIT */
/*
 * xfrm-msg.h - the libnl xfrm objects (SAs, policies) that make up one half of a tunnel
 *
 * Pure construction, no I/O: the unit tests build these, turn them into netlink messages with
 * xfrmnl_sa_build_add_request() / xfrmnl_sp_build_add_request() and check every attribute.
 * An SA is ESP in tunnel mode with AEAD rfc4106(gcm(aes)) (160-bit key incl. salt, 128-bit ICV),
 * replay window 32, the half's reqid, explicit lifetimes (a zero limit would expire the SA at
 * once): soft time limit = rekey interval, soft/hard packet limits below the 32-bit sequence
 * number wrap, no hard time limit (a tunnel outlives the daemon). With ESP-in-UDP the SA carries
 * an encap template (UDP_ENCAP_ESPINUDP, the two ports). Policies select overlay /32 to overlay
 * /32 and require ESP in tunnel mode between the underlay addresses, with the same reqid. No
 * `fwd` policy: overlay traffic ends on this host (the overlay address is on lo), nothing is
 * forwarded.
 */
#pragma once

#include <stdint.h>

struct tunnel_half;
struct tunnel_sa;
struct xfrmnl_sa;
struct xfrmnl_sp;

enum tunnel_dir {
	TUNNEL_DIR_OUT, /* this host -> peer */
	TUNNEL_DIR_IN,	/* peer -> this host */
};

/**
 * xfrm_msg_sa() - Build the SA of one direction of @h
 * @h:		the half (borrowed)
 * @dir:	which direction
 * @sa:		SPI and key to use (borrowed; usually &h->out or &h->in, or a new one when rekeying)
 * @ret:	the new object, owned by the caller (xfrmnl_sa_put())
 *
 * Return: 0, -ENOMEM, or -EINVAL for a bad half
 */
int xfrm_msg_sa(const struct tunnel_half *h, enum tunnel_dir dir, const struct tunnel_sa *sa,
		struct xfrmnl_sa **ret);

/**
 * xfrm_msg_sa_id() - Build the identity (daddr, SPI, ESP) of an SA of @h, for delete and get
 * @spi:	the SPI (host order)
 * @ret:	the new object, owned by the caller (xfrmnl_sa_put())
 *
 * Return: 0, -ENOMEM
 */
int xfrm_msg_sa_id(const struct tunnel_half *h, enum tunnel_dir dir, uint32_t spi,
		   struct xfrmnl_sa **ret);

/**
 * xfrm_msg_sp() - Build the policy of one direction of @h
 * @h:		the half (borrowed)
 * @dir:	TUNNEL_DIR_OUT (XFRM_POLICY_OUT) or TUNNEL_DIR_IN (XFRM_POLICY_IN)
 * @ret:	the new object, owned by the caller (xfrmnl_sp_put()); also fit for delete
 *
 * Return: 0, -ENOMEM
 */
int xfrm_msg_sp(const struct tunnel_half *h, enum tunnel_dir dir, struct xfrmnl_sp **ret);
