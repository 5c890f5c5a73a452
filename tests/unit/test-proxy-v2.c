/* SPDX-License-Identifier: MIT */
/*
 * test-proxy-v2.c - the PROXY protocol v2 header (lib/grammar/proxy-v2.h), byte for byte against
 * the layout of haproxy's proxy-protocol.txt section 2.2: IPv4 (28 bytes), IPv6 (52), LOCAL for a
 * unix or unknown client (16), a destination of another family or none written as zeros, and a
 * source address shorter than its family's struct never read past.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "proxy-v2.h"

static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
				 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

static struct sockaddr_in v4(const char *a, uint16_t port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port) };

	assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
	return s;
}

static struct sockaddr_in6 v6(const char *a, uint16_t port)
{
	struct sockaddr_in6 s = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
	return s;
}

static void test_ipv4(void **state)
{
	struct sockaddr_in src = v4("192.0.2.7", 51000), dst = v4("198.51.100.1", 443);
	static const uint8_t want[] = { 0x21, 0x11, 0x00, 0x0c, 192,  0,    2,	  7,
					198,  51,   100,  1,	0xc7, 0x38, 0x01, 0xbb };
	uint8_t buf[PROXY_V2_MAX];

	assert_int_equal(proxy_v2_header((struct sockaddr *)&src, sizeof(src),
					 (struct sockaddr *)&dst, sizeof(dst), buf),
			 28);
	assert_memory_equal(buf, sig, sizeof(sig));
	assert_memory_equal(buf + 12, want, sizeof(want));
}

static void test_ipv6(void **state)
{
	struct sockaddr_in6 src = v6("2001:db8::7", 51000), dst = v6("2001:db8::1", 8443);
	uint8_t buf[PROXY_V2_MAX];

	assert_int_equal(proxy_v2_header((struct sockaddr *)&src, sizeof(src),
					 (struct sockaddr *)&dst, sizeof(dst), buf),
			 52);
	assert_memory_equal(buf, sig, sizeof(sig));
	assert_int_equal(buf[12], 0x21);
	assert_int_equal(buf[13], 0x21);
	assert_int_equal(buf[14] << 8 | buf[15], 36);
	assert_memory_equal(buf + 16, &src.sin6_addr, 16);
	assert_memory_equal(buf + 32, &dst.sin6_addr, 16);
	assert_int_equal(buf[48] << 8 | buf[49], 51000);
	assert_int_equal(buf[50] << 8 | buf[51], 8443);
}

/* a client that crossed a peer link: the destination is not known here */
static void test_no_destination(void **state)
{
	struct sockaddr_in src = v4("10.1.2.3", 40000);
	static const uint8_t zero[6];
	uint8_t buf[PROXY_V2_MAX];

	assert_int_equal(proxy_v2_header((struct sockaddr *)&src, sizeof(src), NULL, 0, buf), 28);
	assert_int_equal(buf[13], 0x11);
	assert_memory_equal(buf + 16, &src.sin_addr, 4);
	assert_memory_equal(buf + 20, zero, 4);
	assert_int_equal(buf[24] << 8 | buf[25], 40000);
	assert_memory_equal(buf + 26, zero, 2);
}

static void test_mixed_families(void **state)
{
	struct sockaddr_in src = v4("10.1.2.3", 40000);
	struct sockaddr_in6 dst = v6("::1", 80);
	static const uint8_t zero[4];
	uint8_t buf[PROXY_V2_MAX];

	assert_int_equal(proxy_v2_header((struct sockaddr *)&src, sizeof(src),
					 (struct sockaddr *)&dst, sizeof(dst), buf),
			 28);
	assert_memory_equal(buf + 20, zero, 4);
}

static void test_local(void **state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct sockaddr_in shortsrc = v4("10.1.2.3", 1);
	uint8_t buf[PROXY_V2_MAX];

	assert_int_equal(proxy_v2_header((struct sockaddr *)&un, sizeof(sa_family_t), NULL, 0, buf),
			 16);
	assert_memory_equal(buf, sig, sizeof(sig));
	assert_int_equal(buf[12], 0x20);
	assert_int_equal(buf[13], 0x00);
	assert_int_equal(buf[14], 0);
	assert_int_equal(buf[15], 0);
	/* unknown (no address at all), and an AF_INET address cut short: LOCAL, nothing read */
	assert_int_equal(proxy_v2_header((struct sockaddr *)&un, 0, NULL, 0, buf), 16);
	assert_int_equal(proxy_v2_header((struct sockaddr *)&shortsrc, 4, NULL, 0, buf), 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),	       cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_no_destination), cmocka_unit_test(test_mixed_families),
		cmocka_unit_test(test_local),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
