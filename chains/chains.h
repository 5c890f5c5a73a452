/* SPDX-License-Identifier: MIT */
/*
 * chains.h - chain words as ops tables
 *
 * Each word of a chain spec that does something at run time is one chains/<word>.c with a
 * struct chain_op, listed in the table in chains/chains.c; segment.c never switches on a word.
 * Syntax checking of every word lives in lib/spec.c, because the CLI runs it too without linking
 * the daemon; an op only runs words that already passed spec_parse().
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
	const char *word;
	const char *unsupported; /* why apply is NULL, for the refusal message */
	int (*apply)(struct segment *s, const struct spec_word *w, struct endpoint *target,
		     void **ret_state, char **ret_error, chain_done_fn done, void *userdata);
	void (*cancel)(struct segment *s,
		       void *pending); /* abort a pending apply; done is not called */
	void (*undo)(struct segment *s, void *state);
};

extern const struct chain_op chain_op_url;
extern const struct chain_op chain_op_child;
extern const struct chain_op chain_op_chain;
extern const struct chain_op chain_op_docker_ns;
extern const struct chain_op chain_op_docker_run;
extern const struct chain_op chain_op_remote;
extern const struct chain_op chain_op_tunnel;
extern const struct chain_op chain_op_udptunnel;

/**
 * chain_op_get() - Return: the op for a word type (never NULL for a valid type)
 */
const struct chain_op *chain_op_get(enum spec_word_type t);

/**
 * chain_check_supported() - Find the first word of @seg (or its descendants) this daemon cannot run
 * @reterr:	on -EOPNOTSUPP, a malloc'ed message naming the word and its position
 *
 * Return: 0, -EOPNOTSUPP, -ENOMEM
 */
int chain_check_supported(const struct spec_seg *seg, char **reterr);
