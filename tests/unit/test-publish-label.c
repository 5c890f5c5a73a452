/* SPDX-License-Identifier: MIT */
/*
 * test-publish-label.c - the wormhole.publish label: items, heads, tails, segment ids, refusals;
 * and durations (time-util.c), which the `idle` word reads
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cleanup.h"
#include "publish-label.h"
#include "time-util.h"

static void check(const char *value, const char *name, const char *want)
{
	struct publish_item *it = NULL;
	size_t n = 0;
	char *err = NULL, got[1024] = "";

	assert_int_equal(publish_label_parse(value, name, &it, &n, &err), 0);
	assert_null(err);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(got);

		snprintf(got + l, sizeof(got) - l, "%s%s>%s=%s", i ? " " : "", it[i].head,
			 it[i].tail, it[i].id);
	}
	if (strcmp(got, want) != 0)
		print_error("label '%s'\n  got  %s\n  want %s\n", value, got, want);
	assert_string_equal(got, want);
	publish_items_free(it, n);
}

static void bad(const char *value, const char *want)
{
	struct publish_item *it = NULL;
	size_t n = 0;
	_cleanup_free_ char *err = NULL;

	assert_int_equal(publish_label_parse(value, "web", &it, &n, &err), -EINVAL);
	assert_null(it);
	assert_non_null(err);
	if (!strstr(err, want))
		print_error("label '%s': got '%s', want '%s'\n", value, err, want);
	assert_non_null(strstr(err, want));
}

static void test_items(void **state)
{
	check("8080:80", "web", ":8080>:80=web.8080");
	check("tcp/8080:80", "web", ":8080>:80=web.8080");
	check("udp/5353:53", "dns", "udp://:5353>:53=dns.udp-5353");
	check("udp/127.0.0.2:5353:53", "dns", "udp://127.0.0.2:5353>:53=dns.udp-127.0.0.2-5353");
	check("127.0.0.2:8080:80", "web", "127.0.0.2:8080>:80=web.127.0.0.2-8080");
	check("[::1]:8080:80", "web", "[::1]:8080>:80=web.1-8080");
	check("unix:///run/web.sock:80", "web", "unix:///run/web.sock>:80=web.unix");
	check("8080:80, 8443:443,udp/5353:53", "app",
	      ":8080>:80=app.8080 :8443>:443=app.8443 udp://:5353>:53=app.udp-5353");
	check("8080:80,", "web", ":8080>:80=web.8080");
}

static void test_long_name(void **state)
{
	char name[80];
	struct publish_item *it = NULL;
	size_t n = 0;

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(publish_label_parse("8080:80", name, &it, &n, NULL), 0);
	assert_int_equal(strlen(it[0].id), 64);
	publish_items_free(it, n);
}

static void test_refused(void **state)
{
	bad("", "no item");
	bad(",", "no item");
	bad("80", "item '80': expected [udp/]HOSTPORT:PORT");
	bad("8080:http", "item '8080:http': expected");
	bad("8080:0", "invalid port '0'");
	bad("8080:70000", "invalid port '70000'");
	bad("0:80", "item '0:80': head ':0'");
	bad("sctp/80:80", "item 'sctp/80:80': head");
	bad("unix://relative:80", "item 'unix://relative:80': head 'unix://relative'");
	bad("8080:80,x", "item 'x'");
}

static void test_durations(void **state)
{
	uint64_t u;
	char buf[32];

	assert_int_equal(duration_parse("90", &u), 0);
	assert_true(u == 90 * USEC_PER_SEC);
	assert_int_equal(duration_parse("5m", &u), 0);
	assert_true(u == 300 * USEC_PER_SEC);
	assert_int_equal(duration_parse("1h30m", &u), 0);
	assert_true(u == 5400 * USEC_PER_SEC);
	assert_int_equal(duration_parse("250ms", &u), 0);
	assert_true(u == 250 * USEC_PER_MSEC);
	assert_int_equal(duration_parse("2d", &u), 0);
	assert_true(u == 2 * 86400 * USEC_PER_SEC);
	assert_int_equal(duration_parse("", &u), -EINVAL);
	assert_int_equal(duration_parse("m", &u), -EINVAL);
	assert_int_equal(duration_parse("5x", &u), -EINVAL);
	assert_int_equal(duration_parse("5m3", &u), -EINVAL);
	assert_int_equal(duration_parse("5mm", &u), -EINVAL);
	assert_int_equal(duration_parse("-5s", &u), -EINVAL);
	assert_int_equal(duration_parse("99999999999999999999d", &u), -ERANGE);
	assert_string_equal(duration_format(42 * USEC_PER_SEC, buf, sizeof(buf)), "42s");
	assert_string_equal(duration_format(185 * USEC_PER_SEC, buf, sizeof(buf)), "3m");
	assert_string_equal(duration_format(7500 * USEC_PER_SEC, buf, sizeof(buf)), "2h5m");
	assert_string_equal(duration_format(93600 * USEC_PER_SEC, buf, sizeof(buf)), "1d2h");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_durations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
