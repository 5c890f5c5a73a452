/* SPDX-License-Identifier: MIT */
/*
 * tls-sni.c - find the server name in a TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3)
 *
 * The wire format, as far as it is read here:
 *
 *   record     type 22 (handshake) | version 3.x (2) | length (2, <= 2^14) | fragment
 *   handshake  type 1 (client_hello) | length (3) | body      (may span several records)
 *   body       version (2) | random (32) | session_id <0..32> | cipher_suites <2..2^16-2>
 *              | compression_methods <1..2^8-1> | [ extensions <0..2^16-1> ]
 *   extension  type (2) | data <0..2^16-1>;  server_name (0): list <1..2^16-1> of
 *              name_type (1; 0 = host_name) | name <1..2^16-1>
 *
 * Every length is checked against what encloses it; a field that overruns is malformed, never
 * read past. The common case, a ClientHello in one record, is parsed in place; one split over
 * several records is copied into a bounded buffer first.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "tls-sni.h"

#define REC_HEADER	5
#define REC_HANDSHAKE	22
#define REC_MAX		16384 /* a plaintext record's fragment */
#define HS_CLIENT_HELLO 1
#define EXT_SERVER_NAME 0
#define SNI_HOST_NAME	0

struct rd {
	const uint8_t *p;
	size_t n;
};

static bool rd_skip(struct rd *r, size_t k)
{
	if (r->n < k)
		return false;
	r->p += k;
	r->n -= k;
	return true;
}

static bool rd_u8(struct rd *r, size_t *ret)
{
	if (r->n < 1)
		return false;
	*ret = r->p[0];
	return rd_skip(r, 1);
}

static bool rd_u16(struct rd *r, size_t *ret)
{
	if (r->n < 2)
		return false;
	*ret = (size_t)r->p[0] << 8 | r->p[1];
	return rd_skip(r, 2);
}

/* A vector with a 1- or 2-byte length: *ret covers its content, @r moves past it. */
static bool rd_vec(struct rd *r, unsigned lenbytes, struct rd *ret)
{
	size_t k;

	if (!(lenbytes == 1 ? rd_u8(r, &k) : rd_u16(r, &k)) || r->n < k)
		return false;
	*ret = (struct rd){ .p = r->p, .n = k };
	return rd_skip(r, k);
}

bool tls_sni_name_valid(const char *name, size_t len)
{
	size_t label = 0;

	if (len < 1 || len > TLS_SNI_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c == '.') {
			if (label == 0)
				return false; /* empty label: leading dot, "..", */
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0; /* no trailing dot */
}

bool tls_sni_pattern_valid(const char *pattern)
{
	if (strncmp(pattern, "*.", 2) == 0)
		pattern += 2;
	return tls_sni_name_valid(pattern, strlen(pattern));
}

size_t tls_sni_match(const char *pattern, const char *name)
{
	size_t lp, ln;

	if (strncmp(pattern, "*.", 2) != 0)
		return strcasecmp(pattern, name) == 0 ? TLS_SNI_NAME_MAX + 1 : 0;
	pattern++; /* ".suffix": the name ends with it and has at least one label before */
	lp = strlen(pattern);
	ln = strlen(name);
	if (ln <= lp || strcasecmp(name + ln - lp, pattern) != 0)
		return 0;
	return lp;
}

/* The server name in a ClientHello body (without the handshake header). */
static int parse_hello(struct rd body, char *ret_name)
{
	struct rd v, exts;
	size_t k;

	if (!rd_skip(&body, 2 + 32)) /* legacy_version, random */
		return -EBADMSG;
	if (!rd_vec(&body, 1, &v) || v.n > 32) /* legacy_session_id */
		return -EBADMSG;
	if (!rd_vec(&body, 2, &v) || v.n < 2 || v.n % 2) /* cipher_suites */
		return -EBADMSG;
	if (!rd_vec(&body, 1, &v) || v.n < 1) /* legacy_compression_methods */
		return -EBADMSG;
	if (body.n == 0)
		return 0; /* no extensions at all (SSL 3.0 style) */
	if (!rd_vec(&body, 2, &exts) || body.n != 0)
		return -EBADMSG;

	while (exts.n > 0) {
		size_t type;
		struct rd ext, list;

		if (!rd_u16(&exts, &type) || !rd_vec(&exts, 2, &ext))
			return -EBADMSG;
		if (type != EXT_SERVER_NAME)
			continue;
		if (!rd_vec(&ext, 2, &list) || ext.n != 0 || list.n == 0)
			return -EBADMSG;
		while (list.n > 0) {
			struct rd name;

			if (!rd_u8(&list, &k) || !rd_vec(&list, 2, &name))
				return -EBADMSG;
			if (k != SNI_HOST_NAME)
				continue;
			if (!tls_sni_name_valid((const char *)name.p, name.n))
				return -EBADMSG;
			/* valid names are ASCII: lowercasing is setting bit 5 of A-Z */
			for (size_t i = 0; i < name.n; i++) {
				uint8_t c = name.p[i];

				if (c >= 'A' && c <= 'Z')
					c |= 0x20;
				ret_name[i] = (char)c;
			}
			ret_name[name.n] = '\0';
			return 1;
		}
		return 0; /* a server_name extension without a host_name */
	}
	return 0;
}

/* The header of the record at @p (@n bytes available): its fragment's length, or -EAGAIN /
 * -EBADMSG. */
static int record_header(const uint8_t *p, size_t n, size_t *ret_len)
{
	size_t len;

	if (n >= 1 && p[0] != REC_HANDSHAKE)
		return -EBADMSG;
	if (n >= 2 && p[1] != 3)
		return -EBADMSG;
	if (n < REC_HEADER)
		return -EAGAIN;
	len = (size_t)p[3] << 8 | p[4];
	if (len == 0 || len > REC_MAX) /* empty handshake records are forbidden (RFC 8446 5.1) */
		return -EBADMSG;
	*ret_len = len;
	return 0;
}

int tls_sni_parse(const uint8_t *buf, size_t len, char ret_name[static TLS_SNI_NAME_MAX + 1])
{
	uint8_t hs[TLS_SNI_HELLO_MAX];
	size_t have = 0, need = 0, off = 0, frag;
	int r;

	if (len > TLS_SNI_PEEK_MAX)
		len = TLS_SNI_PEEK_MAX;

	/* the common case: the whole ClientHello in the first record, parsed in place */
	r = record_header(buf, len, &frag);
	if (r < 0)
		return r;
	if (frag >= 4 && len >= REC_HEADER + 4) {
		const uint8_t *h = buf + REC_HEADER;

		if (h[0] != HS_CLIENT_HELLO)
			return -EBADMSG;
		need = 4 + ((size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3]);
		if (need > TLS_SNI_HELLO_MAX)
			return -EBADMSG;
		if (need <= frag && len >= REC_HEADER + need)
			return parse_hello((struct rd){ .p = h + 4, .n = need - 4 }, ret_name);
		need = 0; /* not all here: the loop below reads it again */
	}

	/* several records: gather their fragments until the handshake message is complete */
	while (off < len) {
		size_t take;

		r = record_header(buf + off, len - off, &frag);
		if (r < 0)
			break;
		off += REC_HEADER;
		take = len - off < frag ? len - off : frag;
		if (have + take > sizeof(hs))
			take = sizeof(hs) - have;
		memcpy(hs + have, buf + off, take);
		have += take;
		off += take;
		if (have >= 4 && need == 0) {
			if (hs[0] != HS_CLIENT_HELLO)
				return -EBADMSG;
			need = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]);
			if (need > TLS_SNI_HELLO_MAX)
				return -EBADMSG;
		}
		if (need > 0 && have >= need)
			return parse_hello((struct rd){ .p = hs + 4, .n = need - 4 }, ret_name);
		if (take < frag)
			break; /* this record is not all here yet */
	}
	if (r == -EBADMSG)
		return r;
	return len >= TLS_SNI_PEEK_MAX ? -EBADMSG : -EAGAIN;
}
