/* SPDX-License-Identifier: MIT */
/*
 * test-tls-sni.c - the ClientHello parser (lib/grammar/tls-sni.h) and server-name patterns
 *
 * The fixtures in tests/unit/data/tls-hello/ are the first bytes real clients sent to a socket
 * that never answered (captured with `xxd -p`): OpenSSL 3.0 s_client in TLS 1.3 and 1.2, with
 * and without -servername, curl 7.88 with --resolve, and a 253-byte name. Each is also cut at
 * every length (incomplete: -EAGAIN), re-framed into records of a few bytes (a ClientHello split
 * over records must give the same name), and broken field by field (-EBADMSG, never a read past
 * the end: the ASan run of the unit suite checks that). argv[1] is the fixture directory.
 */
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
#include "tls-sni.h"

static const char *fixture_dir = "tests/unit/data/tls-hello";

struct fixture {
	const char *file;
	int r;		  /* tls_sni_parse() on the whole capture */
	const char *name; /* on 1 */
};

#define LONG_NAME                                                          \
	"lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll." \
	"lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll." \
	"lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll.example"

static const struct fixture fixtures[] = {
	{ "tls13-a", 1, "a.example" },	   /* openssl s_client -servername a.example */
	{ "tls12-b", 1, "www.b.example" }, /* -servername www.B.example -tls1_2: lowercased */
	{ "nosni", 0, NULL },		   /* -noservername */
	{ "curl-a", 1, "a.example" },	   /* curl --resolve a.example:PORT:127.0.0.1 */
	{ "tls13-long", 1, LONG_NAME },	   /* a 253-byte name */
};

/* Reads a hex fixture into a malloc'ed buffer. */
static uint8_t *load(const char *name, size_t *ret_len)
{
	_cleanup_free_ char *path = NULL;
	uint8_t *buf;
	size_t n = 0, cap = 4096;
	FILE *f;
	int c, hi = -1;

	assert_true(asprintf(&path, "%s/%s.hex", fixture_dir, name) > 0);
	f = fopen(path, "re");
	if (!f)
		fail_msg("cannot open fixture %s: %m", path);
	buf = malloc(cap);
	assert_non_null(buf);
	while ((c = fgetc(f)) != EOF) {
		int v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		buf[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	fclose(f);
	*ret_len = n;
	return buf;
}

/* The length of the first record's handshake message plus the record header: where a capture's
 * ClientHello ends (the fixtures hold one record each). */
static size_t hello_end(const uint8_t *b)
{
	return 5 + 4 + ((size_t)b[6] << 16 | (size_t)b[7] << 8 | b[8]);
}

static void test_fixtures(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(fixtures); i++) {
		const struct fixture *fx = &fixtures[i];
		size_t len;
		_cleanup_free_ uint8_t *b = load(fx->file, &len);
		char name[TLS_SNI_NAME_MAX + 1] = "";

		assert_int_equal(hello_end(b), len);
		assert_int_equal(tls_sni_parse(b, len, name), fx->r);
		if (fx->r == 1)
			assert_string_equal(name, fx->name);
		/* every proper prefix is incomplete, never malformed nor a name */
		for (size_t k = 0; k < len; k++)
			assert_int_equal(tls_sni_parse(b, k, name), -EAGAIN);
	}
}

/* Re-frames the single record of @b into records of @chunk bytes each. */
static uint8_t *reframe(const uint8_t *b, size_t len, size_t chunk, size_t *ret_len)
{
	size_t body = len - 5, nrec = (body + chunk - 1) / chunk, n = 0;
	uint8_t *out = malloc(body + 5 * nrec);

	assert_non_null(out);
	for (size_t off = 0; off < body; off += chunk) {
		size_t k = body - off < chunk ? body - off : chunk;

		out[n++] = b[0];
		out[n++] = b[1];
		out[n++] = b[2];
		out[n++] = (uint8_t)(k >> 8);
		out[n++] = (uint8_t)k;
		memcpy(out + n, b + 5 + off, k);
		n += k;
	}
	*ret_len = n;
	return out;
}

static void test_split_records(void **state)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 64, 100, 200 };

	for (size_t i = 0; i < ELEMENTSOF(fixtures); i++) {
		const struct fixture *fx = &fixtures[i];
		size_t len;
		_cleanup_free_ uint8_t *b = load(fx->file, &len);

		for (size_t c = 0; c < ELEMENTSOF(chunks); c++) {
			size_t rlen;
			_cleanup_free_ uint8_t *r = reframe(b, len, chunks[c], &rlen);
			char name[TLS_SNI_NAME_MAX + 1] = "";

			assert_int_equal(tls_sni_parse(r, rlen, name), fx->r);
			if (fx->r == 1)
				assert_string_equal(name, fx->name);
			for (size_t k = 0; k < rlen; k++)
				assert_int_equal(tls_sni_parse(r, k, name), -EAGAIN);
		}
	}
}

/* Offsets in the TLS 1.3 fixture (tls13-a): record header 0..4, handshake header 5..8, version
 * 9..10, random 11..42, session id length 43. */
static void test_malformed(void **state)
{
	size_t len;
	_cleanup_free_ uint8_t *b = load("tls13-a", &len);
	_cleanup_free_ uint8_t *m = malloc(len + 16);
	char name[TLS_SNI_NAME_MAX + 1];
	static const char http[] = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
	static const uint8_t sslv2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01 };

	assert_int_equal(tls_sni_parse((const uint8_t *)http, strlen(http), name), -EBADMSG);
	assert_int_equal(tls_sni_parse((const uint8_t *)http, 1, name), -EBADMSG);
	assert_int_equal(tls_sni_parse(sslv2, sizeof(sslv2), name), -EBADMSG);
	assert_int_equal(tls_sni_parse(b, 0, name), -EAGAIN);

#define BROKEN(off, val)                                                 \
	do {                                                             \
		memcpy(m, b, len);                                       \
		m[off] = (uint8_t)(val);                                 \
		assert_int_equal(tls_sni_parse(m, len, name), -EBADMSG); \
	} while (0)
	BROKEN(0, 23);	 /* application data, not handshake */
	BROKEN(1, 2);	 /* record version 2.x */
	BROKEN(5, 2);	 /* server_hello */
	BROKEN(43, 33);	 /* session id longer than 32 */
	BROKEN(6, 0x01); /* a handshake message of 65 KiB: larger than TLS_SNI_HELLO_MAX */
#undef BROKEN

	/* an empty record */
	memcpy(m, b, len);
	m[3] = m[4] = 0;
	assert_int_equal(tls_sni_parse(m, len, name), -EBADMSG);

	/* the handshake message claims more than the record and nothing follows: incomplete */
	memcpy(m, b, len);
	m[8]++;
	assert_int_equal(tls_sni_parse(m, len, name), -EAGAIN);
}

/* Every length byte of a real hello changed by ±1 and ±0x80: malformed or incomplete or a
 * result, but never a read past the buffer (ASan), and any name found is valid. */
static void test_mutations(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(fixtures); i++) {
		size_t len;
		_cleanup_free_ uint8_t *b = load(fixtures[i].file, &len);
		_cleanup_free_ uint8_t *m = malloc(len);
		static const int deltas[] = { 1, -1, 0x80 };

		assert_non_null(m);
		for (size_t off = 0; off < len; off++)
			for (size_t d = 0; d < ELEMENTSOF(deltas); d++) {
				char name[TLS_SNI_NAME_MAX + 1];
				int r;

				memcpy(m, b, len);
				m[off] = (uint8_t)(m[off] + deltas[d]);
				r = tls_sni_parse(m, len, name);
				assert_true(r == 1 || r == 0 || r == -EAGAIN || r == -EBADMSG);
				if (r == 1)
					assert_true(tls_sni_name_valid(name, strlen(name)));
			}
	}
}

/* Records of one byte each never end the hello within the peek bound: refused, not waited on. */
static void test_peek_bound(void **state)
{
	size_t n = TLS_SNI_PEEK_MAX + 6, off = 0;
	_cleanup_free_ uint8_t *b = malloc(n);
	char name[TLS_SNI_NAME_MAX + 1];
	/* one handshake message of 16 KiB - 4 announced, then 1-byte records */
	static const uint8_t first[] = { 22, 3, 1, 0, 4, 1, 0, 0x3f, 0xfc };

	assert_non_null(b);
	memcpy(b, first, sizeof(first));
	off = sizeof(first);
	while (off + 6 <= n) {
		static const uint8_t rec[] = { 22, 3, 1, 0, 1, 0 };

		memcpy(b + off, rec, sizeof(rec));
		off += sizeof(rec);
	}
	assert_int_equal(tls_sni_parse(b, TLS_SNI_PEEK_MAX - 1, name), -EAGAIN);
	assert_int_equal(tls_sni_parse(b, off, name), -EBADMSG);
}

static void test_names(void **state)
{
	assert_true(tls_sni_name_valid("a.example", 9));
	assert_true(tls_sni_name_valid("x", 1));
	assert_true(tls_sni_name_valid("_acme.a-b.example", 17));
	assert_false(tls_sni_name_valid("", 0));
	assert_false(tls_sni_name_valid(".a", 2));
	assert_false(tls_sni_name_valid("a.", 2));
	assert_false(tls_sni_name_valid("a..b", 4));
	assert_false(tls_sni_name_valid("a b", 3));
	assert_false(tls_sni_name_valid("a\0b", 3));
	assert_true(tls_sni_name_valid(LONG_NAME, strlen(LONG_NAME)));

	assert_true(tls_sni_pattern_valid("a.example"));
	assert_true(tls_sni_pattern_valid("*.b.example"));
	assert_false(tls_sni_pattern_valid("*"));
	assert_false(tls_sni_pattern_valid("*."));
	assert_false(tls_sni_pattern_valid("a.*.example"));
	assert_false(tls_sni_pattern_valid("**.example"));
	assert_false(tls_sni_pattern_valid("*example"));
}

static void test_match(void **state)
{
	assert_true(tls_sni_match("a.example", "a.example") > 0);
	assert_true(tls_sni_match("A.Example", "a.example") > 0);
	assert_int_equal(tls_sni_match("a.example", "b.a.example"), 0);
	assert_true(tls_sni_match("*.b.example", "x.b.example") > 0);
	assert_true(tls_sni_match("*.b.example", "y.x.b.example") > 0);
	assert_int_equal(tls_sni_match("*.b.example", "b.example"), 0);
	assert_int_equal(tls_sni_match("*.b.example", "xb.example"), 0);
	/* exact beats any suffix; a longer suffix beats a shorter one */
	assert_true(tls_sni_match("x.b.example", "x.b.example") >
		    tls_sni_match("*.b.example", "x.b.example"));
	assert_true(tls_sni_match("*.x.b.example", "y.x.b.example") >
		    tls_sni_match("*.b.example", "y.x.b.example"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),   cmocka_unit_test(test_split_records),
		cmocka_unit_test(test_malformed),  cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_peek_bound), cmocka_unit_test(test_names),
		cmocka_unit_test(test_match),
	};

	if (argc > 1)
		fixture_dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
