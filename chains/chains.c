/* SPDX-License-Identifier: MIT */
/*
 * chains.c - the table of chain words, and the up-front check that every word can run here
 */
#include <errno.h>
#include <stdio.h>

#include "chains.h"
#include "errmsg.h"

const struct chain_op *const chain_ops[_SPEC_WORD_TYPE_MAX] = {
	[SPEC_URL] = &chain_op_url,
	[SPEC_DOCKER_NS] = &chain_op_docker_ns,
	[SPEC_DOCKER_RUN] = &chain_op_docker_run,
	[SPEC_CHILD] = &chain_op_child,
	[SPEC_CHAIN] = &chain_op_chain,
	[SPEC_REMOTE] = &chain_op_remote,
	[SPEC_TUNNEL] = &chain_op_tunnel,
	[SPEC_UDPTUNNEL] = &chain_op_udptunnel,
	[SPEC_IDLE] = &chain_op_idle,
	[SPEC_PROXY_PROTOCOL] = &chain_op_proxy_protocol,
	[SPEC_BALANCE] = &chain_op_balance,
	[SPEC_SNI] = &chain_op_sni,
};

const struct chain_op *chain_op_get(enum spec_word_type t)
{
	return t < _SPEC_WORD_TYPE_MAX ? chain_ops[t] : NULL;
}

static int check_words(const struct spec_word *w, size_t n, char **reterr)
{
	for (size_t i = 0; i < n; i++) {
		const struct chain_op *op = chain_op_get(w[i].type);
		int r;

		if (!op || !op->apply) {
			if (errmsg_set(
				    reterr, "word %u '%s': %s", w[i].pos, spec_word_name(w[i].type),
				    op && op->unsupported ? op->unsupported
							  : "not supported by this wormholed") < 0)
				return -ENOMEM;
			return -EOPNOTSUPP;
		}
		if (w[i].child) {
			r = chain_check_supported(w[i].child, reterr);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int chain_check_supported(const struct spec_seg *seg, char **reterr)
{
	int r;

	r = check_words(seg->init, seg->n_init, reterr);
	if (r < 0)
		return r;
	return check_words(seg->trig, seg->n_trig, reterr);
}
