/* SPDX-License-Identifier: MIT */
/*
 * tls-sni.h - the server name of a TLS ClientHello, read without terminating TLS
 *
 * A head that routes by server name (the `sni` word) peeks at the first bytes a client sends and
 * hands them here. The parser is pure (bytes in, a name out, no allocation) so it can be fuzzed:
 * it reads TLS records of type handshake, reassembles a ClientHello split over several of them,
 * skips the random, session id, cipher suites and compression methods, and walks the extensions
 * to the server_name one (RFC 6066, type 0) and its first host_name. Everything is bounded: a
 * ClientHello larger than TLS_SNI_HELLO_MAX, or one that has not ended within the first
 * TLS_SNI_PEEK_MAX bytes, is refused like a malformed one, so the caller never waits for more.
 *
 * Names and patterns: a name is 1..253 bytes of letters, digits, '-', '_' and '.', without empty
 * labels or a trailing dot, compared case-insensitively (the parser lowercases it). A pattern is
 * such a name, or "*." followed by one: it matches every name that ends with "." and that suffix,
 * at any depth ("*.example.com" matches "a.example.com" and "a.b.example.com", not
 * "example.com"), as nginx's server_name does.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_SNI_NAME_MAX  253	      /* a DNS name in text, without the trailing dot */
#define TLS_SNI_HELLO_MAX 16384	      /* the handshake message, its 4-byte header included */
#define TLS_SNI_PEEK_MAX  (18 * 1024) /* bytes of the stream looked at: the records around it */

/**
 * tls_sni_parse() - The server name in the ClientHello at the start of a TLS stream
 * @buf, @len:	the first bytes the client sent (borrowed); only TLS_SNI_PEEK_MAX are looked at
 * @ret_name:	on 1, the host_name, lowercased and NUL-terminated
 *
 * Return: 1 found; 0 a complete ClientHello without a server name; -EAGAIN the ClientHello is
 * not complete yet (read more, up to TLS_SNI_PEEK_MAX bytes); -EBADMSG not a TLS ClientHello,
 * malformed, larger than TLS_SNI_HELLO_MAX, or not complete within TLS_SNI_PEEK_MAX bytes
 */
int tls_sni_parse(const uint8_t *buf, size_t len, char ret_name[static TLS_SNI_NAME_MAX + 1]);

/**
 * tls_sni_name_valid() - Return: whether @name (@len bytes, no NUL needed) is a valid name
 */
bool tls_sni_name_valid(const char *name, size_t len);

/**
 * tls_sni_pattern_valid() - Return: whether @pattern (NUL-terminated) is a name or "*." + name
 */
bool tls_sni_pattern_valid(const char *pattern);

/**
 * tls_sni_match() - Whether @name (lowercase, as tls_sni_parse() returns it) matches @pattern
 * Return: 0 no match; otherwise the match's strength, for picking the best of several: an exact
 * name beats every suffix, a longer suffix beats a shorter one
 */
size_t tls_sni_match(const char *pattern, const char *name);
