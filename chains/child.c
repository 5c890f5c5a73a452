/* SPDX-License-Identifier: MIT */
/*
 * child.c - `child` and `chain`: a new segment whose head starts as this segment's tail
 *
 * `chain` also points this segment's tail at the child's head once the child listens (with its
 * real, possibly ephemeral, port). The child is undone (deleted, with its own children and
 * containers) when the word is undone: on a failure later in the parent's creation or trigger,
 * or when the parent is deleted.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "chains.h"
#include "segment.h"

struct child_pending {
	struct segment *parent;
	struct segment *child; /* half-built while pending */
	bool chain;
	chain_done_fn done;
	void *userdata;
};

static int child_link(struct segment *parent, struct segment *child, bool chain)
{
	if (!chain)
		return 0;
	endpoint_done(&parent->tail.ep);
	return endpoint_copy(&parent->tail.ep, &child->head);
}

static void on_child_created(struct segment *child, int r, char *error, void *userdata)
{
	struct child_pending *p = userdata;
	chain_done_fn done = p->done;
	void *ud = p->userdata;

	if (r >= 0) {
		r = child_link(p->parent, child, p->chain);
		if (r < 0)
			child = segment_free(child);
	}
	free(p);
	done(ud, r, r < 0 ? NULL : child, error);
}

static int apply(struct segment *s, const struct spec_word *w, bool chain, void **ret_state,
		 char **ret_error, chain_done_fn done, void *userdata)
{
	struct child_pending *p;
	struct segment *child = NULL;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*p = (struct child_pending){
		.parent = s, .chain = chain, .done = done, .userdata = userdata
	};
	r = segment_create(s->d, NULL, NULL, w->child, &s->tail.ep, s, on_child_created, p, &child,
			   ret_error);
	if (r == 1) {
		p->child = child;
		*ret_state = p;
		return 1;
	}
	free(p);
	if (r < 0)
		return r;
	r = child_link(s, child, chain);
	if (r < 0) {
		segment_free(child);
		return r;
	}
	*ret_state = child;
	return 0;
}

static int child_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
		       void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	return apply(s, w, false, ret_state, ret_error, done, userdata);
}

static int chain_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
		       void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	return apply(s, w, true, ret_state, ret_error, done, userdata);
}

static void child_cancel(struct segment *s, void *pending)
{
	struct child_pending *p = pending;

	segment_free(p->child); /* cancels the child's own pending words */
	free(p);
}

static void child_undo(struct segment *s, void *state)
{
	segment_free(state);
}

const struct chain_op chain_op_child = {
	.apply = child_apply,
	.cancel = child_cancel,
	.undo = child_undo,
};

const struct chain_op chain_op_chain = {
	.apply = chain_apply,
	.cancel = child_cancel,
	.undo = child_undo,
};
