/* SPDX-License-Identifier: MIT */
/*
 * test-balance.c - the selection of `balance MODE` (lib/engine/balance.h), shared by a segment's
 * several tails and the providers of `remote H1,H2`: round-robin in turn, least-loaded with ties
 * in turn, tried candidates skipped, down ones only when nothing else is left, a pause that has
 * passed makes a candidate eligible again, unusable ones never, and 64 candidates at most.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "balance.h"

#define N_MAX 70

static struct balance_cand cands[N_MAX];

static struct balance_cand get(size_t k, void *userdata)
{
	return cands[k];
}

static void reset(size_t n)
{
	for (size_t k = 0; k < N_MAX; k++)
		cands[k] = (struct balance_cand){ .usable = k < n };
}

static int pick(enum segment_balance mode, size_t n, unsigned *next, uint64_t tried)
{
	return balance_pick(mode, n, next, tried, 1000, get, NULL);
}

static void test_round_robin(void **state)
{
	unsigned next = 0, count[3] = { 0 };

	reset(3);
	cands[0].load = 5; /* the load does not matter in turn */
	for (int i = 0; i < 30; i++) {
		int k = pick(SEGMENT_BALANCE_ROUND_ROBIN, 3, &next, 0);

		assert_int_equal(k, i % 3);
		count[k]++;
	}
	assert_int_equal(count[0], 10);
	assert_int_equal(count[1], 10);
	assert_int_equal(count[2], 10);
}

static void test_least_loaded(void **state)
{
	unsigned next = 0;

	reset(3);
	cands[0].load = 2;
	cands[1].load = 1;
	cands[2].load = 3;
	assert_int_equal(pick(SEGMENT_BALANCE_LEAST_LOADED, 3, &next, 0), 1);
	assert_int_equal(next, 2);
	/* ties go in turn from the last pick */
	cands[0].load = cands[1].load = cands[2].load = 0;
	assert_int_equal(pick(SEGMENT_BALANCE_LEAST_LOADED, 3, &next, 0), 2);
	assert_int_equal(pick(SEGMENT_BALANCE_LEAST_LOADED, 3, &next, 0), 0);
	assert_int_equal(pick(SEGMENT_BALANCE_LEAST_LOADED, 3, &next, 0), 1);
	cands[0].load = cands[1].load = 1;
	assert_int_equal(pick(SEGMENT_BALANCE_LEAST_LOADED, 3, &next, 0), 2);
}

static void test_tried_and_down(void **state)
{
	unsigned next = 0;

	reset(3);
	/* tried ones are skipped; all tried: none */
	assert_int_equal(pick(SEGMENT_BALANCE_ROUND_ROBIN, 3, &next, 1), 1);
	next = 0;
	assert_int_equal(pick(SEGMENT_BALANCE_ROUND_ROBIN, 3, &next, 7), -1);
	assert_int_equal(next, 0);
	/* down or pausing: skipped while another is up */
	cands[0].down = true;
	cands[1].retry_usec = 2000; /* now is 1000 */
	assert_int_equal(pick(SEGMENT_BALANCE_ROUND_ROBIN, 3, &next, 0), 2);
	assert_int_equal(pick(SEGMENT_BALANCE_LEAST_LOADED, 3, &next, 0), 2);
	/* a pause that has passed: it is tried again */
	cands[1].retry_usec = 500;
	next = 0;
	assert_int_equal(pick(SEGMENT_BALANCE_ROUND_ROBIN, 3, &next, 0), 1);
	/* nothing up: the down ones after all, in turn, each once */
	cands[1].retry_usec = 2000;
	cands[2].down = true;
	next = 0;
	assert_int_equal(pick(SEGMENT_BALANCE_ROUND_ROBIN, 3, &next, 0), 0);
	assert_int_equal(pick(SEGMENT_BALANCE_ROUND_ROBIN, 3, &next, 1), 1);
	assert_int_equal(pick(SEGMENT_BALANCE_ROUND_ROBIN, 3, &next, 3), 2);
	assert_int_equal(pick(SEGMENT_BALANCE_ROUND_ROBIN, 3, &next, 7), -1);
	/* unusable: never, not even when nothing else is left */
	reset(3);
	cands[1].usable = false;
	next = 1;
	assert_int_equal(pick(SEGMENT_BALANCE_ROUND_ROBIN, 3, &next, 5), -1);
}

static void test_limits(void **state)
{
	unsigned next = 0;

	assert_int_equal(pick(SEGMENT_BALANCE_ROUND_ROBIN, 0, &next, 0), -1);
	reset(N_MAX);
	/* candidate 63 is the last looked at; with all 64 tried, none */
	next = 63;
	assert_int_equal(pick(SEGMENT_BALANCE_ROUND_ROBIN, N_MAX, &next, 0), 63);
	assert_int_equal(next, 0);
	assert_int_equal(pick(SEGMENT_BALANCE_ROUND_ROBIN, N_MAX, &next, UINT64_MAX), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_least_loaded),
		cmocka_unit_test(test_tried_and_down),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
