/* SPDX-License-Identifier: MIT */
/*
 * proxy-protocol.c - `proxy-protocol` (and `balance`, the other small tail option): each connection to the tail starts with a PROXY protocol
 * v2 header (haproxy's spec) carrying the original client's address and port
 *
 * A segment option of the tail (after `tail`). The client is the one that connected to the
 * first segment of the chain, also across `remote` hops: its address travels with the stream
 * (tail-peer.c, head-peer.c). The header itself is written by the engine (conn.c) before the
 * first byte is relayed; this word only switches it on.
 */
#include <errno.h>
#include <string.h>

#include "chains.h"
#include "segment.h"

static int pp_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
		    void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	s->proxy_protocol = true;
	*ret_state = NULL;
	return 0;
}

static void pp_undo(struct segment *s, void *state)
{
	s->proxy_protocol = false;
}

const struct chain_op chain_op_proxy_protocol = {
	.apply = pp_apply,
	.undo = pp_undo,
};

/* `balance MODE`: how a connection picks one of the segment's several tails (the grammar gave
 * it one per `tail`: the engine's SEGMENT_ROUTE_BALANCE, conn.c), or how a `remote H1,H2` tail
 * picks its provider (remote.c) */
static int balance_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
			 void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	s->balance = strcmp(w->arg, "round-robin") == 0 ? SEGMENT_BALANCE_ROUND_ROBIN
							: SEGMENT_BALANCE_LEAST_LOADED;
	if (s->n_tails > 1 && s->route == SEGMENT_ROUTE_ONE)
		s->route = SEGMENT_ROUTE_BALANCE;
	*ret_state = NULL;
	return 0;
}

static void balance_undo(struct segment *s, void *state)
{
	s->balance = SEGMENT_BALANCE_LEAST_LOADED;
	if (s->route == SEGMENT_ROUTE_BALANCE)
		s->route = SEGMENT_ROUTE_ONE;
}

const struct chain_op chain_op_balance = {
	.apply = balance_apply,
	.undo = balance_undo,
};
