/* SPDX-License-Identifier: MIT */
/*
 * spec.h - the chain-spec language (`wormhole create WORDS...`)
 *
 * The words themselves (names, arguments, where they may stand, what they do) are one table,
 * WORDS() in words.h; this file and spec.c spell none of them.
 *
 * A spec is a linear chain of segments. Each segment has an init list (words run at creation) and
 * a trig list (words run on its first inbound connection). Modifier words (url, docker-ns,
 * docker-run) carry a tail flag: false changes the head, true the tail. Link words (child, chain,
 * remote, tunnel, udptunnel) end the current segment's words and own the next segment's.
 *
 *   segment    ::= head-phase [ "tail" tail-phase ] [ "trigger" trig-phase ] [ link segment ]
 *                 | head-phase ( "tail" [ "sni" NAME ]... tail-phase )...     (routing, below)
 *                 | head-phase "balance" MODE ( "tail" tail-phase )...        (balancing, below)
 *   mod        ::= "url" URL | "docker-ns" CONTAINER | "docker-run" ARGS
 *   link       ::= "child" | "chain" | "remote" HOST | "tunnel" HOST | "udptunnel" HOST
 *   "id" NAME may appear anywhere and names the top segment; "balance" MODE and
 *   "proxy-protocol" anywhere in their segment.
 *
 * Several tails: in a segment with `sni` words (routing) or with a `balance` word and no link
 * word (balancing), each `tail` keyword opens the next tail. Routing: the `sni NAME` words after
 * a `tail` label that tail; the one without `sni` is the default. Balancing: every tail serves
 * every connection, each new one goes to the least loaded tail or round-robin (MODE). In any
 * other segment a repeated `tail` goes on with the one tail, as it always did (also with
 * `balance` beside a link word: `balance` then picks among `remote H1,H2` providers). A segment
 * with several tails has no trigger words and a TCP (or unix) head, each tail has an address
 * word and carries streams; routing and balancing do not mix. A routing segment has no link and
 * is not reached over a peer link (yet), has one default at most, and every server name routes
 * to one tail.
 *
 * spec_parse() validates everything that can be checked without touching the system: words,
 * arguments (URL, netns name, container reference, docker-run flags, peer address), and
 * impossible combinations (udp with a stream protocol, unix with a netns or container, a segment
 * whose tail would be its own head). It is run by the CLI and again by the daemon.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "strv.h"
#include "words.h" /* enum spec_word_type, the word table */

struct spec_seg;

struct spec_word {
	enum spec_word_type type;
	bool tail;		/* modifiers: applies to the tail (after `tail` or `trigger`) */
	char *arg;		/* NULL for child and chain */
	unsigned pos;		/* 1-based position of the keyword among the create words */
	unsigned tail_idx;	/* in a segment with several tails (routing, balancing): which of
				 * its tails (0-based) the word after the k-th `tail` belongs to;
				 * 0 everywhere else */
	struct spec_seg *child; /* link words: the segment they create (owned) */
};

struct spec_seg {
	struct spec_word *init; /* run at creation, in order */
	size_t n_init;
	struct spec_word *trig; /* run once, on the first inbound connection */
	size_t n_trig;
	size_t n_tails; /* 1, or with several tails (`sni`, `balance`) one per `tail` keyword */
};

struct spec {
	char *id;	      /* from `id NAME`, NULL for a generated id */
	struct spec_seg *top; /* never NULL after a successful parse */
};

#define SPEC_ID_MAX 64

/**
 * spec_parse() - Parse and validate a chain spec
 * @words:	NULL-terminated create words (borrowed)
 * @ret:	the parsed spec on success only; free with spec_free()
 * @reterr:	on -EINVAL, a malloc'ed message naming the word and its position, e.g.
 *		"word 3 'tial': unknown word"
 *
 * Return: 0, -EINVAL for a bad spec, -ENOMEM
 */
int spec_parse(char *const *words, struct spec **ret, char **reterr);

/**
 * spec_free() - Free @sp (NULL is fine). Return: NULL
 */
struct spec *spec_free(struct spec *sp);
void spec_freep(struct spec **sp);

/**
 * spec_seg_to_words() - Serialize the words of one segment and its descendants back into the
 * create language, so that a peer daemon can re-parse them (remote/tunnel)
 * @seg:	the segment (borrowed)
 * @ret:	NULL-terminated, malloc'ed array of malloc'ed strings; free with strv_free()
 *
 * Return: 0, -ENOMEM
 */
int spec_seg_to_words(const struct spec_seg *seg, char ***ret);

/**
 * spec_word_name() - Return: the keyword for @t ("docker-ns")
 */
const char *spec_word_name(enum spec_word_type t);

/**
 * spec_word_is_link() - Return: whether @t starts a new segment
 */
bool spec_word_is_link(enum spec_word_type t);

/**
 * spec_word_is_peer_hop() - Return: whether @t starts a segment on a peer daemon
 */
bool spec_word_is_peer_hop(enum spec_word_type t);

/**
 * spec_id_valid() - Whether @id is usable as a segment id: 1..64 chars of [A-Za-z0-9._-],
 * not starting with '-' or '.'
 */
bool spec_id_valid(const char *id);
