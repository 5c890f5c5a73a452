/* SPDX-License-Identifier: MIT */
/*
 * balance.c - the selection of `balance MODE` among several tails or providers (see balance.h)
 */
#include "balance.h"

int balance_pick(enum segment_balance mode, size_t n, unsigned *next, uint64_t tried, uint64_t now,
		 balance_cand_fn cand, void *userdata)
{
	uint64_t best_load = 0;
	long best = -1;

	if (n > BALANCE_MAX)
		n = BALANCE_MAX;
	if (n == 0)
		return -1;
	/* first the candidates that are up (or whose pause is over), then those still down */
	for (int pass = 0; pass < 2 && best < 0; pass++)
		for (size_t j = 0; j < n; j++) {
			size_t k = (*next + j) % n;
			struct balance_cand c;

			if (tried & (1ULL << k))
				continue;
			c = cand(k, userdata);
			if (!c.usable)
				continue;
			if (pass == 0 && (c.down || (c.retry_usec && now < c.retry_usec)))
				continue;
			if (best < 0 || c.load < best_load) {
				best = (long)k;
				best_load = c.load;
			}
			if (mode == SEGMENT_BALANCE_ROUND_ROBIN || c.load == 0)
				break; /* in turn, and nobody has fewer than none */
		}
	if (best >= 0)
		*next = (unsigned)(((size_t)best + 1) % n);
	return (int)best;
}
