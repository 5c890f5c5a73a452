/* SPDX-License-Identifier: MIT */
/*
 * balance.h - which of several places a new connection goes to: the one selection of `balance
 * MODE`, for a segment's several tails (segment.c, conn.c) and for the providers of `remote
 * H1,H2` (chains/remote.c) alike
 *
 * Candidates are numbered 0..n-1 and described by a callback, so neither user copies its
 * tails or providers. A pick skips the candidates already tried for this connection (a bit
 * mask), then prefers those that are up: not down, or down but past their retry time (then
 * this connection tries it again). Among them `least-loaded` takes the one with the smallest
 * load, `round-robin` the next in turn; ties go in turn too, from the position after the last
 * pick. Only when no candidate left is up does it take one that is down (it may be back before
 * its pause ends), so a connection fails only when every candidate failed for it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "segment.h" /* enum segment_balance */

/* At most this many candidates (the tried set is a uint64_t). */
#define BALANCE_MAX 64

struct balance_cand {
	bool usable;	     /* false: never pick it (a provider whose segment is not made) */
	bool down;	     /* down for good until it changes (a stopped container, a link) */
	uint64_t retry_usec; /* its last open failed: skipped until then; 0: up */
	uint64_t load;	     /* open connections or streams (least-loaded) */
};

/**
 * balance_cand_fn - describe candidate @k (< n) for a pick
 */
typedef struct balance_cand (*balance_cand_fn)(size_t k, void *userdata);

/**
 * balance_pick() - The candidate for a new connection (or for one whose open just failed)
 * @mode:	least-loaded or round-robin
 * @n:		the candidates (at most BALANCE_MAX are looked at)
 * @next:	the round-robin position (in/out: the one after the pick)
 * @tried:	bit k: candidate k was tried for this connection already
 * @now:	the monotonic time, as @retry_usec
 *
 * Return: the candidate's index, or -1 when none is left
 */
int balance_pick(enum segment_balance mode, size_t n, unsigned *next, uint64_t tried, uint64_t now,
		 balance_cand_fn cand, void *userdata);
