/* SPDX-License-Identifier: MIT */
/*
 * sni.c - `sni NAME`: the tail it stands in serves TLS connections for server name NAME
 *
 * `wormhole create url :443 tail sni a.example url :8443 tail sni '*.b.example' url :9443
 * tail url :7443` routes each TLS connection by the server name of its ClientHello, without
 * terminating TLS: a.example to :8443, any name under b.example to :9443, anything else (no
 * name, an unknown one, not TLS at all) to :7443; without an unnamed tail those are closed. The
 * grammar (lib/grammar/spec.c) makes every `tail` of such a segment a tail of its own; the
 * peek, the parse (lib/grammar/tls-sni.c) and the choice are the engine's (conn.c, segment.c).
 * This word only labels its tail.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chains.h"
#include "errmsg.h"
#include "segment.h"

static int sni_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
		     void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	int r;

	r = segment_tail_add_name(s, w->tail_idx, w->arg);
	if (r < 0) {
		(void)errmsg_set(ret_error, "word %u 'sni': tail %u: %s", w->pos, w->tail_idx + 1,
				 strerror(-r));
		return r;
	}
	*ret_state = NULL;
	return 0;
}

const struct chain_op chain_op_sni = {
	.apply = sni_apply,
	/* nothing to undo: the names are the tail's and go with the segment */
};
