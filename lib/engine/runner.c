/* SPDX-License-Identifier: MIT */
/*
 * runner.c - apply words through their ops, one after the other, and undo them in reverse
 */
#include <errno.h>
#include <stdlib.h>

#include "errmsg.h"
#include "runner.h"
#include "segment.h"
#include "spec.h"
#include "word-ops.h"

struct runner {
	struct segment *s;
	const struct spec_word *words;
	size_t n, i;
	bool trig;
	runner_finish_fn finish;
	const struct chain_op *pending_op;
	void *pending;
};

static int runner_run(struct runner *rn, char **ret_error);

static int applied_push(struct segment *s, const struct chain_op *op, void *state, bool trig)
{
	struct applied *a = realloc(s->applied, (s->n_applied + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	s->applied = a;
	s->applied[s->n_applied++] = (struct applied){ .op = op, .state = state, .trig = trig };
	return 0;
}

void runner_undo(struct segment *s, bool trig_only)
{
	while (s->n_applied > 0) {
		struct applied a = s->applied[s->n_applied - 1];

		if (trig_only && !a.trig)
			break;
		s->n_applied--;
		if (a.op->undo)
			a.op->undo(s, a.state);
	}
}

struct runner *runner_free(struct runner *rn)
{
	if (!rn)
		return NULL;
	if (rn->pending_op && rn->pending_op->cancel)
		rn->pending_op->cancel(rn->s, rn->pending);
	rn->s->d->runners_active--;
	free(rn);
	return NULL;
}

static void runner_on_done(void *userdata, int r, void *state, char *error)
{
	struct runner *rn = userdata;
	struct segment *s = rn->s;
	const struct chain_op *op = rn->pending_op;
	runner_finish_fn finish = rn->finish;

	rn->pending_op = NULL;
	rn->pending = NULL;
	if (r >= 0) {
		r = applied_push(s, op, state, rn->trig);
		if (r < 0 && op->undo)
			op->undo(s, state);
	}
	if (r >= 0) {
		rn->i++;
		r = runner_run(rn, &error);
		if (r == 1)
			return;
	}
	if (r < 0)
		runner_undo(s, rn->trig);
	s->runner = runner_free(s->runner);
	finish(s, r < 0 ? r : 0, error);
}

/* Runs words from rn->i on. Return: 0 all applied, 1 waiting for an op, <0 failed (what this
 * run applied is undone by the caller). */
static int runner_run(struct runner *rn, char **ret_error)
{
	struct segment *s = rn->s;

	for (; rn->i < rn->n; rn->i++) {
		const struct spec_word *w = &rn->words[rn->i];
		const struct chain_op *op = s->d->ops[w->type];
		struct segment_tail *t = segment_tail_nth(s, w->tail_idx);
		struct endpoint *target = w->tail || spec_word_is_link(w->type)
						  ? (w->tail && t ? &t->ep : &s->tail.ep)
						  : &s->head;
		void *state = NULL;
		int r;

		if (!op || !op->apply) {
			(void)errmsg_set(ret_error, "word %u '%s': not supported by this wormholed",
					 w->pos, spec_word_name(w->type));
			return -EOPNOTSUPP;
		}
		r = op->apply(s, w, target, &state, ret_error, runner_on_done, rn);
		if (r < 0)
			return r;
		if (r == 1) {
			rn->pending_op = op;
			rn->pending = state;
			return 1;
		}
		r = applied_push(s, op, state, rn->trig);
		if (r < 0) {
			if (op->undo)
				op->undo(s, state);
			return r;
		}
	}
	return 0;
}

int runner_start(struct segment *s, const struct spec_word *words, size_t n, bool trig,
		 runner_finish_fn finish, char **ret_error)
{
	struct runner *rn;
	int r;

	if (n == 0)
		return 0;
	rn = calloc(1, sizeof(*rn));
	if (!rn)
		return -ENOMEM;
	*rn = (struct runner){ .s = s, .words = words, .n = n, .trig = trig, .finish = finish };
	s->runner = rn;
	s->d->runners_active++;
	r = runner_run(rn, ret_error);
	if (r == 1)
		return 1;
	s->runner = runner_free(s->runner);
	if (r < 0)
		runner_undo(s, trig);
	return r;
}
