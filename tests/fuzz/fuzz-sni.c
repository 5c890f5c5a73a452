/* SPDX-License-Identifier: MIT */
/*
 * fuzz-sni.c - libFuzzer entry point for the ClientHello parser (lib/grammar/tls-sni.h)
 *
 * The input is the first bytes of a client's stream. What tls_sni_parse() returns must hold what
 * tls-sni.h promises, or the target aborts: one of its four results; a name that is valid,
 * lowercase and matched by itself; a prefix of the input either -EAGAIN or the same answer (a
 * longer read never changes a decision); and -EAGAIN only while fewer than TLS_SNI_PEEK_MAX
 * bytes were given.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls-sni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[TLS_SNI_NAME_MAX + 1], again[TLS_SNI_NAME_MAX + 1];
	int r, r2;

	r = tls_sni_parse(data, size, name);
	if (r != 1 && r != 0 && r != -EAGAIN && r != -EBADMSG)
		abort();
	if (r == -EAGAIN && size >= TLS_SNI_PEEK_MAX)
		abort();
	if (r == 1) {
		size_t n = strlen(name);

		if (!tls_sni_name_valid(name, n) || tls_sni_match(name, name) == 0)
			abort();
		for (size_t i = 0; i < n; i++)
			if (name[i] >= 'A' && name[i] <= 'Z')
				abort();
	}
	/* a prefix is -EAGAIN or already has the whole's answer: a longer read never changes a
	 * decision (the connection code stops at the first one) */
	if (size > 1) {
		r2 = tls_sni_parse(data, size / 2, again);
		if (r2 != -EAGAIN && (r2 != r || (r == 1 && strcmp(name, again) != 0)))
			abort();
	}
	return 0;
}
