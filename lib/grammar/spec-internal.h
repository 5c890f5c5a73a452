/* SPDX-License-Identifier: MIT */
/*
 * spec-internal.h - what the two passes over a chain spec share: the limits, what the first pass
 * (spec.c) records about each segment for the second's messages, and the second pass (spec-check.c)
 * itself. Nothing outside lib/grammar/spec*.c includes this header.
 */
#pragma once

#include <stddef.h>

#include "errmsg.h"
#include "spec.h"

/* Deeper chains are surely a mistake; the limit also bounds the validator's stack arrays. */
#define SPEC_SEGMENTS_MAX 64
/* Tails of one routing segment. */
#define SPEC_TAILS_MAX 32

#define fail	       ERRMSG_FAIL

/* Per segment, what the validator needs to name words. */
struct seg_meta {
	unsigned first_pos;		   /* first word (not id) of the segment, 0 if none */
	unsigned link_pos;		   /* the link word that opened it, 0 for the top */
	unsigned n_tail_kw;		   /* `tail` keywords in its head/tail phases */
	unsigned tail_pos[SPEC_TAILS_MAX]; /* where each stands */
};

/**
 * spec_type_flags() - The WORD_* flags of @t (words.h); 0 for a type out of range
 */
unsigned spec_type_flags(enum spec_word_type t);

/**
 * spec_check() - The second pass: refuse what can never work in the parsed chain @sp (borrowed;
 * it sets each segment's n_tails): routes, segment options, then the endpoint rules
 * @words:	the words @sp was parsed from, for the messages (borrowed)
 * @meta:	per segment, where its words stand; @nseg of them
 * Return: 0, -EINVAL (message naming the word at fault in @reterr), -ENOMEM
 */
int spec_check(char *const *words, struct spec *sp, const struct seg_meta *meta, size_t nseg,
	       char **reterr);
