/* SPDX-License-Identifier: MIT */
/*
 * remote.c - `remote HOST`, `tunnel HOST`, `udptunnel HOST`: the rest of the chain runs on a peer
 *
 * Not run by this daemon yet (the TLS-PSK peer link and the IPsec tunnels land with their own
 * issues); the words are fully syntax-checked by lib/spec.c and refused here before anything is
 * created.
 */
#include "chains.h"

const struct chain_op chain_op_remote = {
	.unsupported = "remote is not supported by this wormholed yet (the peer link is pending)",
};

const struct chain_op chain_op_tunnel = {
	.unsupported = "tunnel is not supported by this wormholed yet (IPsec tunnels are pending)",
};

const struct chain_op chain_op_udptunnel = {
	.unsupported =
		"udptunnel is not supported by this wormholed yet (IPsec tunnels are pending)",
};
