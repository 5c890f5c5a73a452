/* SPDX-License-Identifier: MIT */
/*
 * test-strmap.c - the string-keyed hash map of the segment registry
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "strmap.h"

static void test_put_get_remove(void **state)
{
	struct strmap *m = NULL;
	int a = 1, b = 2;

	assert_int_equal(strmap_new(&m), 0);
	assert_null(strmap_get(m, "web"));
	assert_int_equal(strmap_put(m, "web", &a), 0);
	assert_int_equal(strmap_put(m, "db", &b), 0);
	assert_int_equal(strmap_put(m, "web", &b), -EEXIST);
	assert_ptr_equal(strmap_get(m, "web"), &a); /* the refused put changed nothing */
	assert_ptr_equal(strmap_get(m, "db"), &b);
	assert_int_equal(strmap_size(m), 2);
	assert_ptr_equal(strmap_remove(m, "web"), &a);
	assert_null(strmap_remove(m, "web"));
	assert_null(strmap_get(m, "web"));
	assert_ptr_equal(strmap_get(m, "db"), &b);
	assert_int_equal(strmap_size(m), 1);
	strmap_free(m);
}

/* Many keys: every one found after the table grew, none after removal. */
static void test_many(void **state)
{
	enum { N = 20000 };
	static char keys[N][16];
	struct strmap *m = NULL;

	assert_int_equal(strmap_new(&m), 0);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "seg-%d", i);
		assert_int_equal(strmap_put(m, keys[i], keys[i]), 0);
	}
	assert_int_equal(strmap_size(m), N);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(strmap_get(m, keys[i]), keys[i]);
	assert_null(strmap_get(m, "seg-20000"));
	for (int i = 0; i < N; i += 2)
		assert_ptr_equal(strmap_remove(m, keys[i]), keys[i]);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(strmap_get(m, keys[i]), i % 2 ? keys[i] : NULL);
	assert_int_equal(strmap_size(m), N / 2);
	strmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_remove),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
