/* SPDX-License-Identifier: MIT */
/*
 * test-sockaddr.c - sockaddr_parse_ip() against sockaddr_format(): the client address a peer
 * stream carries ("wormhole-client") goes through both
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "sockaddr.h"

static void round_trip(const char *text)
{
	union sockaddr_union sa;
	socklen_t len = 0;
	char back[SOCKADDR_STR_MAX];

	assert_int_equal(sockaddr_parse_ip(text, &sa, &len), 0);
	assert_string_equal(sockaddr_format(&sa.sa, len, back), text);
}

static void test_parse_good(void **state)
{
	union sockaddr_union sa;
	socklen_t len = 0;

	round_trip("127.0.0.1:40312");
	round_trip("198.18.0.1:0");
	round_trip("[::1]:65535");
	round_trip("[fd57:6f72::1]:9999");
	round_trip("[::ffff:1.2.3.4]:80");
	assert_int_equal(sockaddr_parse_ip("[::1]:80", &sa, &len), 0);
	assert_int_equal(sa.sa.sa_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(sa.in6.sin6_port), 80);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		":80",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:65536",
		"127.0.0.1:-1",
		"127.0.0.1:8x",
		"::1:80",
		"[::1]",
		"[::1:80",
		"[127.0.0.1]:80",
		"[]:80",
		"localhost:80",
		"1.2.3.4.5:80",
		"[::1]x:80",
		"unix:/run/x.sock",
		"[fe80::1%2]:80",
	};
	union sockaddr_union sa = { 0 };
	socklen_t len = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (sockaddr_parse_ip(bad[i], &sa, &len) != -EINVAL)
			fail_msg("'%s' parsed", bad[i]);
		assert_int_equal(len, 7); /* untouched on failure */
	}
	assert_int_equal(sockaddr_parse_ip(NULL, &sa, &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
