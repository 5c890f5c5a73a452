/* SPDX-License-Identifier: MIT */
/*
 * idle.c - `idle TIME[,keep]`: scale to zero
 *
 * A segment option (it runs at creation wherever it stands, lib/grammar/words.h): after TIME
 * without a connection, the segment undoes its trigger words (a docker-run container is stopped
 * and removed, or with ",keep" stopped and kept) and is armed again; the next connection runs the
 * trigger again and waits for it. The life cycle itself is the engine's (segment.c); this word
 * only sets the limit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "chains.h"
#include "cleanup.h"
#include "errmsg.h"
#include "segment.h"

static int idle_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
		      void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	_cleanup_free_ char *err = NULL;
	uint64_t usec;
	bool keep;
	int r;

	r = words_idle_parse(w->arg, &usec, &keep, &err);
	if (r < 0) {
		(void)errmsg_set(ret_error, "word %u 'idle': %s", w->pos, err ?: "invalid");
		return r;
	}
	segment_set_idle(s, usec, keep);
	*ret_state = NULL;
	return 0;
}

static void idle_undo(struct segment *s, void *state)
{
	segment_set_idle(s, 0, false);
}

const struct chain_op chain_op_idle = {
	.apply = idle_apply,
	.undo = idle_undo,
};
