/* SPDX-License-Identifier: MIT */
/*
 * word-ops.h - the interface between the engine and the chain words
 *
 * Each word of a chain spec that does something at run time is one chains/<word>.c with a
 * struct chain_op; the table of them (chains/chains.c) is handed to the engine at start, so the
 * engine never switches on a word and never includes the floor above it. Syntax checking of every
 * word lives in lib/grammar (spec.c, words.c), because the CLI runs it too without linking the
 * daemon; an op only runs words that already passed spec_parse().
 *
 * apply() changes @target (the head or the tail endpoint the word acts on) and may take outside
 * state (a child segment, a container). It returns 0 when done (*ret_state set), 1 when it will
 * call @done later (it then owns a pending operation that cancel() can abort), or a negative errno
 * with *ret_error set. undo() releases what apply() took; it is idempotent and copes with
 * half-applied state. An op whose apply is NULL is a word this daemon does not run yet: the
 * daemon refuses the whole spec before anything starts.
 */
#pragma once

#include "spec.h"

struct endpoint;
struct segment;

typedef void (*chain_done_fn)(void *userdata, int r, void *state, char *error);

struct chain_op {
	const char *unsupported; /* why apply is NULL, for the refusal message */
	int (*apply)(struct segment *s, const struct spec_word *w, struct endpoint *target,
		     void **ret_state, char **ret_error, chain_done_fn done, void *userdata);
	void (*cancel)(struct segment *s,
		       void *pending); /* abort a pending apply; done is not called */
	void (*undo)(struct segment *s, void *state);
};
