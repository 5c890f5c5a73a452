/* SPDX-License-Identifier: MIT */
/*
 * fuzz-url.c - libFuzzer entry point for segment URLs and peer addresses (lib/grammar/url.h)
 *
 * The input, up to its first NUL, goes to url_parse(), to peer_addr_parse() with and without
 * unix:// allowed, and to netns_name_valid(). What the parsers accept must hold what url.h
 * promises, or the target aborts: a namespace name passes netns_name_valid(), a unix path
 * is absolute in a URL (and not empty in a peer address, where -H unix://./sock is fine), and a peer
 * address is either a unix path or a host with a port.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *s = strndup((const char *)data, size);
	struct url u = { 0 };
	char *err = NULL;

	if (!s)
		return 0;
	if (url_parse(s, &u, &err) == 0) {
		if (u.ns && !netns_name_valid(u.ns))
			abort();
		if (u.path && (u.proto != URL_PROTO_UNIX || u.path[0] != '/'))
			abort();
		url_done(&u);
	}
	free(err);
	for (int allow_unix = 0; allow_unix <= 1; allow_unix++) {
		struct peer_addr a = { 0 };

		err = NULL;
		if (peer_addr_parse(s, allow_unix, &a, &err) == 0) {
			if (a.is_unix && (!allow_unix || !a.path || !a.path[0]))
				abort();
			if (!a.is_unix && (!a.host || a.port == 0))
				abort();
			peer_addr_done(&a);
		}
		free(err);
	}
	(void)netns_name_valid(s);
	return 0;
}
