/* SPDX-License-Identifier: MIT */
/*
 * test-resolver.c - lib/net/resolver.h: "localhost" answers on the loop with a loopback address
 * and the port asked for; the callback never runs after resolve_cancel(), also when the thread
 * answers later (valgrind and ASan see the request freed by whichever side is last); several
 * lookups at once each answer their own caller.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "resolver.h"

struct answer {
	int calls;
	int r;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} a;
	struct resolve *rq;
};

static void on_answer(void *userdata, int r, const struct sockaddr *sa, socklen_t salen,
		      const char *error)
{
	struct answer *x = userdata;

	x->calls++;
	x->r = r;
	x->rq = NULL;
	if (r == 0) {
		assert_non_null(sa);
		assert_true(salen <= sizeof(x->a));
		memcpy(&x->a, sa, salen);
	} else
		assert_non_null(error);
}

static void run_until(sd_event *e, struct answer *x, size_t n)
{
	for (int i = 0; i < 1000; i++) {
		size_t done = 0;

		for (size_t k = 0; k < n; k++)
			done += x[k].calls > 0;
		if (done == n)
			return;
		assert_true(sd_event_run(e, 10 * 1000) >= 0);
	}
	fail_msg("no answer within 10 s");
}

static void test_localhost(void **state)
{
	sd_event *e = NULL;
	struct answer x = { 0 };

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(resolve_start(e, "localhost", 9999, on_answer, &x, &x.rq), 0);
	assert_int_equal(x.calls, 0); /* never from inside resolve_start() */
	run_until(e, &x, 1);
	assert_int_equal(x.calls, 1);
	assert_int_equal(x.r, 0);
	if (x.a.sa.sa_family == AF_INET) {
		assert_int_equal(ntohl(x.a.in.sin_addr.s_addr) >> 24, 127);
		assert_int_equal(ntohs(x.a.in.sin_port), 9999);
	} else {
		assert_int_equal(x.a.sa.sa_family, AF_INET6);
		assert_true(IN6_IS_ADDR_LOOPBACK(&x.a.in6.sin6_addr));
		assert_int_equal(ntohs(x.a.in6.sin6_port), 9999);
	}
	sd_event_unref(e);
}

static void test_cancel(void **state)
{
	sd_event *e = NULL;
	struct answer x = { 0 }, y = { 0 };

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(resolve_start(e, "localhost", 1, on_answer, &x, &x.rq), 0);
	assert_int_equal(resolve_start(e, "localhost", 2, on_answer, &y, &y.rq), 0);
	x.rq = resolve_cancel(x.rq);
	assert_null(x.rq);
	run_until(e, &y, 1); /* the other one answers */
	/* let the cancelled thread finish too; its answer must go nowhere */
	for (int i = 0; i < 20; i++)
		assert_true(sd_event_run(e, 10 * 1000) >= 0);
	assert_int_equal(x.calls, 0);
	assert_int_equal(y.calls, 1);
	assert_int_equal(ntohs(y.a.in.sin_port), 2); /* sin_port and sin6_port lie alike */
	assert_null(resolve_cancel(NULL));
	sd_event_unref(e);
}

static void test_many(void **state)
{
	sd_event *e = NULL;
	struct answer x[8] = { 0 };

	assert_int_equal(sd_event_new(&e), 0);
	for (unsigned k = 0; k < 8; k++)
		assert_int_equal(resolve_start(e, "localhost", (uint16_t)(1000 + k), on_answer,
					       &x[k], &x[k].rq),
				 0);
	run_until(e, x, 8);
	for (unsigned k = 0; k < 8; k++) {
		assert_int_equal(x[k].calls, 1);
		assert_int_equal(x[k].r, 0);
		assert_int_equal(ntohs(x[k].a.in.sin_port), 1000 + k);
	}
	sd_event_unref(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_localhost),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
