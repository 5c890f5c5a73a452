/* SPDX-License-Identifier: MIT */
/*
 * tunnels.h - the daemon's IPsec tunnels: registry, requests between daemons, rekey timer
 */
#pragma once

#include <stdint.h>

struct ctl_reply;
struct ctl_request;
struct daemon;
struct tunnels_wait;

struct tunnels_options {
	const char *cidr;  /* overlay CIDR, NULL: OVERLAY_CIDR_DEFAULT */
	uint16_t port_min; /* ESP-in-UDP port pool; 0: the defaults */
	uint16_t port_max;
	unsigned rekey_sec; /* 0: TUNNEL_REKEY_DEFAULT */
};

/**
 * tunnels_start() - Open netlink, find the tunnels of an earlier run (complete ones are kept and
 * their encap sockets reopened, partial ones removed), and start the rekey timer
 * @d:		the daemon (borrowed; d->peers may be NULL: no creates then, rediscovered tunnels
 *		are kept but not rekeyed)
 * @o:		options (borrowed)
 *
 * Return: 0; -EINVAL for a bad CIDR; a negative errno when netlink cannot be opened (logged)
 */
int tunnels_start(struct daemon *d, const struct tunnels_options *o);

/**
 * tunnels_stop() - Forget the registry and close encap sockets; the kernel keeps the tunnels
 */
void tunnels_stop(void);

typedef void (*tunnels_reply_fn)(void *userdata, const struct ctl_reply *rep, int final);

/**
 * tunnels_request() - Handle a tunnel-* control request
 * @req:	the request (borrowed)
 * @from_peer:	it came over a peer link (the only way for prepare, install, rekey and a
 *		tunnel-delete that names a half)
 * @ret:	the reply when it is ready now (return 0); the caller releases it
 * @cb:		for a later reply (return 1): called with progress lines (@final 0) and once with
 *		the final reply (@final 1), unless tunnels_wait_cancel() came first
 * @ret_wait:	on 1, the handle for tunnels_wait_cancel()
 *
 * Return: 0 (reply in @ret), 1 (reply through @cb later), 2 (the final reply went through @cb
 * already), or a negative errno
 */
int tunnels_request(const struct ctl_request *req, int from_peer, struct ctl_reply *ret,
		    tunnels_reply_fn cb, void *userdata, struct tunnels_wait **ret_wait);

/**
 * tunnels_wait_cancel() - The asker is gone: no callback (the operation itself goes on, and
 * rolls back on its own). NULL is fine
 */
void tunnels_wait_cancel(struct tunnels_wait *w);
