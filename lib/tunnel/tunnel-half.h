/* SPDX-License-Identifier: MIT */
/*
 * tunnel-half.h - what one host holds of a tunnel between two hosts
 *
 * A tunnel is two halves, one in each host's kernel. A half names the underlay addresses (this
 * host, the peer), the two overlay /32s (ours sits on `lo`), a reqid that marks every SA and
 * policy as wormhole's (TUNNEL_REQID_BASE | n), the encapsulation (plain ESP, or ESP-in-UDP with
 * a port at each end), and two SAs: `out` (this host to the peer) and `in`. Each direction has its
 * own SPI and its own fresh random key: rfc4106(gcm(aes)), a 128-bit AES key followed by a 32-bit
 * salt, 128-bit ICV. The initiator generates both directions and sends the peer its mirror image
 * (tunnel_half_mirror()), so the peer's `in` is our `out`.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define TUNNEL_AEAD_NAME     "rfc4106(gcm(aes))"
#define TUNNEL_KEY_BYTES     20 /* 16 bytes of AES-128 key + 4 bytes of salt */
#define TUNNEL_ICV_BITS	     128
#define TUNNEL_REQID_BASE    0x57480000u /* "WH": our SAs and policies */
#define TUNNEL_REQID_MASK    0xffff0000u
#define TUNNEL_REKEY_DEFAULT 3600
/* ESP without extended sequence numbers has 32-bit sequence numbers: the kernel drops packets
 * once the counter would wrap. The soft limit makes it announce an expire well before that, and a
 * timer rekeys when the packet count passes it. */
#define TUNNEL_SOFT_PACKETS	      0xff000000ull
#define TUNNEL_HARD_PACKETS	      0xfffffff0ull
#define TUNNEL_ENCAP_PORT_MIN_DEFAULT 4500
#define TUNNEL_ENCAP_PORT_MAX_DEFAULT 4599

enum tunnel_encap {
	TUNNEL_ENCAP_NONE, /* ESP, IP protocol 50 */
	TUNNEL_ENCAP_UDP,  /* ESP-in-UDP (RFC 3948) */
};

struct tunnel_sa {
	uint32_t spi; /* host order; never 0..255 (reserved) */
	uint8_t key[TUNNEL_KEY_BYTES];
};

struct tunnel_half {
	struct in_addr local, remote;	    /* underlay: this host, the peer */
	struct in_addr local_ov, remote_ov; /* overlay /32s; local_ov sits on lo */
	uint32_t reqid;
	enum tunnel_encap encap;
	uint16_t local_port, remote_port; /* ESP-in-UDP only: our encap port, the peer's */
	unsigned rekey_sec;		  /* soft time limit of the SAs, 0 for none */
	struct tunnel_sa out, in;
};

/**
 * tunnel_sa_random() - Fill @sa with a fresh random SPI (>= 256) and key (getrandom)
 *
 * Return: 0, or a negative errno from getrandom()
 */
int tunnel_sa_random(struct tunnel_sa *sa);

/**
 * tunnel_half_mirror() - The peer's half of the tunnel whose local half is @h
 * @h:		our half (borrowed)
 * @ret:	filled: addresses, overlays, ports and SAs swapped; reqid, encap, rekey copied
 */
void tunnel_half_mirror(const struct tunnel_half *h, struct tunnel_half *ret);

/**
 * tunnel_half_wipe() - Overwrite the keys of @h (before it is freed or goes out of scope)
 */
void tunnel_half_wipe(struct tunnel_half *h);
