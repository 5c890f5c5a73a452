/* SPDX-License-Identifier: MIT */
/*
 * proxy-v2.h - the PROXY protocol v2 header a `proxy-protocol` tail starts with
 *
 * haproxy's proxy-protocol.txt, section 2.2: the 12-byte signature, version 2 with the PROXY
 * command, TCP over IPv4 (28 bytes in all) or IPv6 (52), then source and destination address and
 * port. A client whose address is not IP (a unix socket, unknown) gets the LOCAL command (16
 * bytes): the consumer uses the connection's own addresses.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXY_V2_MAX 52 /* the IPv6 form */

/**
 * proxy_v2_header() - Build the header for a connection from @src (the original client) to @dst
 * (the address it reached, or a zero address when @dstlen is 0 or of another family)
 * @buf:	PROXY_V2_MAX bytes
 *
 * Return: the header's length (16, 28 or 52)
 */
size_t proxy_v2_header(const struct sockaddr *src, socklen_t srclen, const struct sockaddr *dst,
		       socklen_t dstlen, uint8_t buf[PROXY_V2_MAX]);
