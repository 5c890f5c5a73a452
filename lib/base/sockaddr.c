/* SPDX-License-Identifier: MIT */
/*
 * sockaddr.c - printing, comparing and hashing socket addresses
 *
 * Used by log lines ("client [::1]:40312") and by the UDP session table, which is keyed by the
 * client's address: the hash covers exactly the fields sockaddr_equal() compares.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sockaddr.h"

char *sockaddr_format(const struct sockaddr *sa, socklen_t salen, char buf[static SOCKADDR_STR_MAX])
{
	char a[INET6_ADDRSTRLEN];

	if (!sa || salen < sizeof(sa_family_t)) {
		snprintf(buf, SOCKADDR_STR_MAX, "(none)");
		return buf;
	}
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if (salen < sizeof(*in) || !inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a)))
			break;
		snprintf(buf, SOCKADDR_STR_MAX, "%s:%u", a, ntohs(in->sin_port));
		return buf;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (salen < sizeof(*in6) || !inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a)))
			break;
		if (in6->sin6_scope_id)
			snprintf(buf, SOCKADDR_STR_MAX, "[%s%%%u]:%u", a, in6->sin6_scope_id,
				 ntohs(in6->sin6_port));
		else
			snprintf(buf, SOCKADDR_STR_MAX, "[%s]:%u", a, ntohs(in6->sin6_port));
		return buf;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t n = salen - offsetof(struct sockaddr_un, sun_path), i, o = 5;

		if (salen <= offsetof(struct sockaddr_un, sun_path)) {
			snprintf(buf, SOCKADDR_STR_MAX, "unix:(unnamed)");
			return buf;
		}
		if (n > sizeof(un->sun_path))
			n = sizeof(un->sun_path);
		/* a pathname is NUL-terminated within @salen (or not); abstract names start with NUL */
		if (un->sun_path[0] != '\0')
			n = strnlen(un->sun_path, n);
		memcpy(buf, "unix:", 5);
		for (i = 0; i < n && o < SOCKADDR_STR_MAX - 1; i++) {
			char ch = un->sun_path[i];

			if (ch == '\0')
				ch = '@';
			else if (ch < ' ' || ch == 127)
				ch = '?';
			buf[o++] = ch;
		}
		buf[o] = '\0';
		return buf;
	}
	default:
		break;
	}
	snprintf(buf, SOCKADDR_STR_MAX, "(family %u)", (unsigned)sa->sa_family);
	return buf;
}

/* The bytes that identify a peer: a pointer into @sa and a length, plus a port. */
static size_t sockaddr_key(const struct sockaddr *sa, socklen_t salen, const void **ret_p,
			   uint32_t *ret_extra)
{
	switch (salen >= sizeof(sa_family_t) ? sa->sa_family : AF_UNSPEC) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if (salen < sizeof(*in))
			break;
		*ret_p = &in->sin_addr;
		*ret_extra = (uint32_t)AF_INET << 16 | in->sin_port;
		return sizeof(in->sin_addr);
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (salen < sizeof(*in6))
			break;
		*ret_p = &in6->sin6_addr;
		*ret_extra = ((uint32_t)AF_INET6 << 16 | in6->sin6_port) ^ in6->sin6_scope_id << 24;
		return sizeof(in6->sin6_addr);
	}
	case AF_UNIX:
		*ret_p = ((const struct sockaddr_un *)sa)->sun_path;
		*ret_extra = AF_UNIX << 16;
		return salen > offsetof(struct sockaddr_un, sun_path)
			       ? salen - offsetof(struct sockaddr_un, sun_path)
			       : 0;
	default:
		break;
	}
	*ret_p = sa;
	*ret_extra = 0;
	return salen;
}

bool sockaddr_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
		    socklen_t blen)
{
	const void *pa, *pb;
	uint32_t ea, eb;
	size_t na, nb;

	na = sockaddr_key(a, alen, &pa, &ea);
	nb = sockaddr_key(b, blen, &pb, &eb);
	if (na != nb || ea != eb || memcmp(pa, pb, na) != 0)
		return false;
	if (alen >= sizeof(struct sockaddr_in6) && a->sa_family == AF_INET6)
		return ((const struct sockaddr_in6 *)a)->sin6_scope_id ==
		       ((const struct sockaddr_in6 *)b)->sin6_scope_id;
	return true;
}

size_t sockaddr_hash(const struct sockaddr *sa, socklen_t salen, size_t seed)
{
	const unsigned char *p;
	const void *key;
	uint32_t extra;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	size_t n, i;

	/* FNV-1a over the key, then a 64-bit finalizer (splitmix) so the seed mixes into every bit */
	n = sockaddr_key(sa, salen, &key, &extra);
	p = key;
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	h = (h ^ extra) * 0x100000001b3ULL;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (size_t)h;
}
