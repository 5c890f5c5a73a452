/* SPDX-License-Identifier: MIT */
/*
 * sockaddr.h - small helpers for socket addresses: a union big enough for every family we use,
 * printing an address the way log lines show it ("127.0.0.1:40", "[::1]:40", "unix:/path",
 * "unix:@abstract"), and comparing two addresses by what identifies a peer (family, address, port).
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

union sockaddr_union {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	struct sockaddr_storage storage;
};

/* "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%4294967295]:65535" or "unix:" + 108 bytes */
#define SOCKADDR_STR_MAX 128

/**
 * sockaddr_format() - Print an address for log lines
 * @sa, @salen:	the address (borrowed); @salen may be 0 for "(none)"
 * @buf:	output, at least SOCKADDR_STR_MAX bytes
 *
 * IPv4 as "127.0.0.1:40", IPv6 as "[::1]:40" (with "%scope" when set), unix as "unix:/path",
 * "unix:@name" (abstract, NULs shown as '@') or "unix:(unnamed)"; other families "(family N)".
 *
 * Return: @buf
 */
char *sockaddr_format(const struct sockaddr *sa, socklen_t salen,
		      char buf[static SOCKADDR_STR_MAX]);

/**
 * sockaddr_equal() - Whether two addresses name the same peer
 *
 * IPv4/IPv6 compare family, address, port (and scope id for IPv6); unix compares the path bytes.
 */
bool sockaddr_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
		    socklen_t blen);

/**
 * sockaddr_hash() - A keyed hash of what sockaddr_equal() compares
 * @seed:	a per-table random value, so remote peers cannot pick colliding addresses
 */
size_t sockaddr_hash(const struct sockaddr *sa, socklen_t salen, size_t seed);
