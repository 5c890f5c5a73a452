/* SPDX-License-Identifier: MIT */
/*
 * test-url.c - segment URLs and peer addresses
 *
 * The original's TestParseUrl (20 rows) and TestParseUrlErrors (7 rows) are ported as tables; the
 * rows after them are where we are stricter than the original, each with the reason.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cleanup.h"
#include "url.h"

struct url_case {
	const char *in;
	enum url_proto proto;
	const char *ns, *host, *path;
	uint16_t port;
};

static void check_url(const struct url_case *c)
{
	struct url u = {};
	_cleanup_free_ char *err = NULL;
	int r;

	r = url_parse(c->in, &u, &err);
	if (r != 0)
		print_error("url_parse('%s') failed: %s\n", c->in, err ? err : "?");
	assert_int_equal(r, 0);
	assert_null(err);
	assert_int_equal(u.proto, c->proto);
	if (c->ns)
		assert_string_equal(u.ns, c->ns);
	else
		assert_null(u.ns);
	if (c->host)
		assert_string_equal(u.host, c->host);
	else
		assert_null(u.host);
	if (c->path)
		assert_string_equal(u.path, c->path);
	else
		assert_null(u.path);
	assert_int_equal(u.port, c->port);
	url_done(&u);
	assert_null(u.host);
}

/* Fails with -EINVAL, a message containing @needle (if given), and leaves *ret untouched. */
static void check_url_error(const char *in, const char *needle)
{
	struct url u = { .port = 7 };
	_cleanup_free_ char *err = NULL;
	int r;

	r = url_parse(in, &u, &err);
	if (r != -EINVAL)
		print_error("url_parse('%s') = %d, expected -EINVAL\n", in, r);
	assert_int_equal(r, -EINVAL);
	assert_non_null(err);
	if (needle && !strstr(err, needle))
		print_error("url_parse('%s'): '%s' lacks '%s'\n", in, err, needle);
	if (needle)
		assert_non_null(strstr(err, needle));
	assert_int_equal(u.port, 7);
	assert_null(u.host);
}

/* utils_test.go TestParseUrl, row for row. */
static void test_original_table(void **state)
{
	static const struct url_case cases[] = {
		{ "", URL_PROTO_NONE, NULL, NULL, NULL, 0 },
		{ ":40", URL_PROTO_NONE, NULL, NULL, NULL, 40 },
		{ "foo", URL_PROTO_NONE, NULL, "foo", NULL, 0 },
		{ "foo:", URL_PROTO_NONE, NULL, "foo", NULL, 0 },
		{ "foo:40", URL_PROTO_NONE, NULL, "foo", NULL, 40 },
		{ "ns@", URL_PROTO_NONE, "ns", NULL, NULL, 0 },
		{ "ns@foo", URL_PROTO_NONE, "ns", "foo", NULL, 0 },
		{ "ns@:40", URL_PROTO_NONE, "ns", NULL, NULL, 40 },
		{ "ns@foo:40", URL_PROTO_NONE, "ns", "foo", NULL, 40 },
		{ "tcp://", URL_PROTO_TCP, NULL, NULL, NULL, 0 },
		{ "udp://", URL_PROTO_UDP, NULL, NULL, NULL, 0 },
		{ "unix://", URL_PROTO_UNIX, NULL, NULL, NULL, 0 },
		{ "tcp://foo", URL_PROTO_TCP, NULL, "foo", NULL, 0 },
		{ "tcp://:40", URL_PROTO_TCP, NULL, NULL, NULL, 40 },
		{ "tcp://foo:40", URL_PROTO_TCP, NULL, "foo", NULL, 40 },
		{ "tcp://ns@", URL_PROTO_TCP, "ns", NULL, NULL, 0 },
		{ "tcp://ns@foo", URL_PROTO_TCP, "ns", "foo", NULL, 0 },
		{ "tcp://ns@:40", URL_PROTO_TCP, "ns", NULL, NULL, 40 },
		{ "tcp://ns@foo:40", URL_PROTO_TCP, "ns", "foo", NULL, 40 },
		{ "[::1]:40", URL_PROTO_NONE, NULL, "::1", NULL, 40 },
	};
	static_assert(ELEMENTSOF(cases) == 20, "the original table has 20 rows");

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		check_url(&cases[i]);
}

/* utils_test.go TestParseUrlErrors, row for row. */
static void test_original_errors(void **state)
{
	check_url_error("multiple@namespace@foo", "only one namespace");
	check_url_error("invalid://host", "invalid protocol 'invalid'");
	check_url_error("multiple:ports:foo", "only one port");
	check_url_error("unix://with@namepace", "namespace is not supported");
	check_url_error("unix://with:port", "port is not supported");
	check_url_error("::1:40", "needs brackets");
	check_url_error("[bad]bracketing", NULL);
}

/* Our additions that the original also accepts. */
static void test_more_valid(void **state)
{
	static const struct url_case cases[] = {
		{ "udp://:53", URL_PROTO_UDP, NULL, NULL, NULL, 53 },
		{ "udp://ns@10.0.0.1:53", URL_PROTO_UDP, "ns", "10.0.0.1", NULL, 53 },
		{ "0.0.0.0:8080", URL_PROTO_NONE, NULL, "0.0.0.0", NULL, 8080 },
		{ "mynetns@:80", URL_PROTO_NONE, "mynetns", NULL, NULL, 80 },
		{ "[::1]", URL_PROTO_NONE, NULL, "::1", NULL, 0 },
		{ "[::1]:", URL_PROTO_NONE, NULL, "::1", NULL, 0 },
		{ "tcp://[fe80::1:2]:65535", URL_PROTO_TCP, NULL, "fe80::1:2", NULL, 65535 },
		{ "ns@[::]:1", URL_PROTO_NONE, "ns", "::", NULL, 1 },
		{ "db-host.example.org:3306", URL_PROTO_NONE, NULL, "db-host.example.org", NULL,
		  3306 },
		{ "a.b_c-d@x", URL_PROTO_NONE, "a.b_c-d", "x", NULL, 0 },
		{ "unix:///run/x.sock", URL_PROTO_UNIX, NULL, NULL, "/run/x.sock", 0 },
		{ ":080", URL_PROTO_NONE, NULL, NULL, NULL, 80 },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		check_url(&cases[i]);
}

/* Every row is accepted by the original in some form; we refuse it. */
static void test_stricter(void **state)
{
	/* The original ignored an invalid port (port 0 = ephemeral) and went on. */
	check_url_error(":0", "invalid port '0'");
	check_url_error(":abc", "invalid port 'abc'");
	check_url_error("foo:abc", "invalid port 'abc'");
	/* The original accepted out-of-range ports and failed at listen/dial time. */
	check_url_error(":70000", "invalid port '70000'");
	check_url_error(":65536", "invalid port '65536'");
	check_url_error(":-5", "invalid port '-5'");
	check_url_error(":+5", "invalid port '+5'");
	check_url_error(":123456", "invalid port '123456'");
	check_url_error(": 40", "invalid port ' 40'");
	/* The original opened /var/run/netns/<ns> with no check: path traversal. */
	check_url_error("../../proc/1/ns/net@:80", "invalid netns name");
	check_url_error("a/b@:80", "invalid netns name 'a/b'");
	check_url_error(".@:80", "invalid netns name '.'");
	check_url_error("..@:80", "invalid netns name '..'");
	/* The original took "@foo" as no namespace; an empty name is a typo. */
	check_url_error("@foo", "invalid netns name ''");
	/* The original took any bracketed text as a host. */
	check_url_error("[bad]", "invalid IPv6 address 'bad'");
	check_url_error("[]:80", "invalid IPv6 address ''");
	check_url_error("[::1", "unterminated '['");
	check_url_error("[::1]80", "unexpected '80' after ']'");
	/* The original accepted any host characters (they failed later at resolve time). */
	check_url_error("ho st:80", "invalid host 'ho st'");
	check_url_error("foo]:80", "invalid host");
	check_url_error("h_x:80", "invalid host 'h_x'");
	check_url_error("-x:80", "invalid host '-x'");
	check_url_error(" :40", "invalid host");
	/* A bare IPv6 address is ambiguous with host:port; the original failed too, differently. */
	check_url_error("::1", "needs brackets");
	check_url_error("fe80::1", "needs brackets");
	/* Proto names are case-sensitive, as in the original; "http" was an error there too. */
	check_url_error("TCP://:80", "invalid protocol 'TCP'");
	check_url_error("http://x", "invalid protocol 'http'");
	/* unix: the original had no unix listener at all; we take only an absolute path. */
	check_url_error("unix://relative.sock", "must be absolute");
	check_url_error("unix:///tmp/a:80", "port is not supported");
	check_url_error("unix:///tmp/dir/", "names a directory");
	check_url_error("unix://ns@/tmp/x", "namespace is not supported");
}

static void test_unix_path_length(void **state)
{
	char in[200], path[120];
	struct url u = {};
	_cleanup_free_ char *err = NULL;

	/* sun_path holds 108 bytes with the NUL: 107 characters fit, 108 do not. */
	path[0] = '/';
	memset(path + 1, 'a', 106);
	path[107] = '\0';
	snprintf(in, sizeof(in), "unix://%s", path);
	assert_int_equal(url_parse(in, &u, &err), 0);
	assert_int_equal(strlen(u.path), 107);
	url_done(&u);

	path[107] = 'a';
	path[108] = '\0';
	snprintf(in, sizeof(in), "unix://%s", path);
	check_url_error(in, "too long");
}

static void test_long_host(void **state)
{
	char in[300];
	struct url u = {};

	memset(in, 'a', 253);
	strcpy(in + 253, ":1");
	assert_int_equal(url_parse(in, &u, NULL), 0);
	assert_int_equal(strlen(u.host), 253);
	url_done(&u);
	memset(in, 'a', 254);
	strcpy(in + 254, ":1");
	check_url_error(in, "invalid host");
}

static void test_netns_name_valid(void **state)
{
	char n[300];

	assert_true(netns_name_valid("ns"));
	assert_true(netns_name_valid("a.b-c_D9"));
	assert_true(netns_name_valid("..."));
	assert_true(netns_name_valid("-x"));
	assert_false(netns_name_valid(""));
	assert_false(netns_name_valid("."));
	assert_false(netns_name_valid(".."));
	assert_false(netns_name_valid("a/b"));
	assert_false(netns_name_valid("a b"));
	assert_false(netns_name_valid("a@b"));
	assert_false(netns_name_valid(NULL));
	memset(n, 'x', 255);
	n[255] = '\0';
	assert_true(netns_name_valid(n));
	n[255] = 'x';
	n[256] = '\0';
	assert_false(netns_name_valid(n));
}

static void test_proto_name(void **state)
{
	assert_string_equal(url_proto_name(URL_PROTO_TCP), "tcp");
	assert_string_equal(url_proto_name(URL_PROTO_UDP), "udp");
	assert_string_equal(url_proto_name(URL_PROTO_UNIX), "unix");
	assert_string_equal(url_proto_name(URL_PROTO_NONE), "");
}

/* Field by field: padding need not be zeroed. */
static void assert_url_zero(const struct url *u)
{
	assert_int_equal(u->proto, URL_PROTO_NONE);
	assert_null(u->ns);
	assert_null(u->host);
	assert_null(u->path);
	assert_int_equal(u->port, 0);
}

static void assert_peer_zero(const struct peer_addr *a)
{
	assert_false(a->is_unix);
	assert_null(a->host);
	assert_null(a->path);
	assert_int_equal(a->port, 0);
}

/* Filled by a real parse, then done: every pointer freed and the struct zeroed (the frees are
 * checked by the ASan and valgrind runs; a second done on the zeroed struct must be harmless). */
static void test_done_zeroed(void **state)
{
	struct url u = {};
	struct peer_addr a = {}, ua = {};

	assert_int_equal(url_parse("udp://ns1@[::1]:53", &u, NULL), 0);
	assert_non_null(u.ns);
	assert_non_null(u.host);
	assert_int_not_equal(u.port, 0);
	url_done(&u);
	assert_url_zero(&u);
	url_done(&u);
	assert_int_equal(url_parse("unix:///run/x.sock", &u, NULL), 0);
	assert_non_null(u.path);
	url_done(&u);
	assert_url_zero(&u);
	url_done(NULL);

	assert_int_equal(peer_addr_parse("peer.example:7000", false, &a, NULL), 0);
	assert_non_null(a.host);
	peer_addr_done(&a);
	assert_peer_zero(&a);
	assert_int_equal(peer_addr_parse("unix:///run/w.sock", true, &ua, NULL), 0);
	assert_non_null(ua.path);
	assert_true(ua.is_unix);
	peer_addr_done(&ua);
	assert_peer_zero(&ua);
	peer_addr_done(&ua);
	peer_addr_done(NULL);
}

static void check_peer(const char *in, bool allow_unix, const char *host, uint16_t port,
		       const char *path)
{
	struct peer_addr a = {};
	_cleanup_free_ char *err = NULL;
	int r;

	r = peer_addr_parse(in, allow_unix, &a, &err);
	if (r != 0)
		print_error("peer_addr_parse('%s') failed: %s\n", in, err ? err : "?");
	assert_int_equal(r, 0);
	if (path) {
		assert_true(a.is_unix);
		assert_null(a.host);
		assert_string_equal(a.path, path);
	} else {
		assert_false(a.is_unix);
		assert_null(a.path);
		assert_string_equal(a.host, host);
		assert_int_equal(a.port, port);
	}
	peer_addr_done(&a);
}

static void check_peer_error(const char *in, bool allow_unix, const char *needle)
{
	struct peer_addr a = {};
	_cleanup_free_ char *err = NULL;

	assert_int_equal(peer_addr_parse(in, allow_unix, &a, &err), -EINVAL);
	assert_non_null(err);
	if (!strstr(err, needle))
		print_error("peer_addr_parse('%s'): '%s' lacks '%s'\n", in, err, needle);
	assert_non_null(strstr(err, needle));
	assert_null(a.host);
}

/* The ValidateAddr examples of §2.1, adapted where noted. */
static void test_peer_original_examples(void **state)
{
	check_peer("", false, "", PEER_DEFAULT_PORT, NULL);
	check_peer("myserver", false, "myserver", 9999, NULL);
	check_peer(":6666", false, "", 6666, NULL);
	check_peer("127.0.0.1", false, "127.0.0.1", 9999, NULL);
	/* ValidateAddr is idempotent on its own output */
	check_peer("tcp://:6666", false, "", 6666, NULL);
	check_peer("tcp://myserver:9999", false, "myserver", 9999, NULL);
	check_peer("unix:///run/wormhole/wormholed.sock", true, NULL, 0,
		   "/run/wormhole/wormholed.sock");
	/* the original's functional test used a relative socket path */
	check_peer("unix://./socket", true, NULL, 0, "./socket");
	check_peer_error("http://x", false, "invalid protocol 'http'");
	check_peer_error("a:b:c", false, "only one port");
	/* Stricter: the original gave the default port for an invalid one ("host:abc" -> 9999). */
	check_peer_error("host:abc", false, "invalid port 'abc'");
	check_peer_error("host:0", false, "invalid port '0'");
	check_peer_error("host:70000", false, "invalid port '70000'");
	/* Stricter: the original defaulted "unix://" to /var/run/wormhole; we want a path. */
	check_peer_error("unix://", true, "needs a socket path");
}

static void test_peer_more(void **state)
{
	check_peer("[::1]:6666", false, "::1", 6666, NULL);
	check_peer("[fd57:6f72::2]", false, "fd57:6f72::2", 9999, NULL);
	check_peer("198.18.0.2:1", false, "198.18.0.2", 1, NULL);
	check_peer("db-host:", false, "db-host", 9999, NULL);
	/* remote/tunnel never take a unix socket */
	check_peer_error("unix:///run/x.sock", false, "not a peer address");
	/* The original could not take IPv6 at all; a bare one is ambiguous. */
	check_peer_error("::1", false, "needs brackets");
	check_peer_error("ns@host", false, "invalid peer address");
	check_peer_error("udp://host", false, "invalid protocol 'udp'");
	check_peer_error("bad host", false, "invalid host");
	check_peer_error("[::1", false, "unterminated");
}

static void test_fd_name(void **state)
{
	struct url u = {};

	assert_int_equal(url_parse("fd:mysql", &u, NULL), 0);
	assert_string_equal(u.fd_name, "mysql");
	assert_null(u.host);
	assert_int_equal(u.proto, URL_PROTO_NONE);
	url_done(&u);
	assert_null(u.fd_name);
	/* all digits: still host "fd", port 80 */
	assert_int_equal(url_parse("fd:80", &u, NULL), 0);
	assert_null(u.fd_name);
	assert_string_equal(u.host, "fd");
	assert_int_equal(u.port, 80);
	url_done(&u);
	check_url_error("fd:a/b", "invalid descriptor name 'a/b'");
	check_url_error("fd:..", "invalid descriptor name");
	check_url_error("fd:a:b", "invalid descriptor name");
	assert_true(fd_name_valid("proxy-web"));
	assert_true(fd_name_valid("a1"));
	assert_false(fd_name_valid("123"));
	assert_false(fd_name_valid(""));
	assert_false(fd_name_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_original_table),
		cmocka_unit_test(test_original_errors),
		cmocka_unit_test(test_more_valid),
		cmocka_unit_test(test_stricter),
		cmocka_unit_test(test_unix_path_length),
		cmocka_unit_test(test_long_host),
		cmocka_unit_test(test_netns_name_valid),
		cmocka_unit_test(test_proto_name),
		cmocka_unit_test(test_done_zeroed),
		cmocka_unit_test(test_peer_original_examples),
		cmocka_unit_test(test_peer_more),
		cmocka_unit_test(test_fd_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
