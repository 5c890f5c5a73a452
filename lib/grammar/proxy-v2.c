/* SPDX-License-Identifier: MIT */
/*
 * proxy-v2.c - the PROXY protocol v2 header (see proxy-v2.h)
 */
#include <netinet/in.h>
#include <string.h>

#include "proxy-v2.h"

size_t proxy_v2_header(const struct sockaddr *src, socklen_t srclen, const struct sockaddr *dst,
		       socklen_t dstlen, uint8_t buf[PROXY_V2_MAX])
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	size_t n = 16;

	memcpy(buf, sig, sizeof(sig));
	if (srclen >= sizeof(struct sockaddr_in) && src->sa_family == AF_INET) {
		struct sockaddr_in s4, d4 = { .sin_family = AF_INET };

		if (dstlen >= sizeof(d4) && dst->sa_family == AF_INET)
			memcpy(&d4, dst, sizeof(d4));
		memcpy(&s4, src, sizeof(s4));
		buf[12] = 0x21; /* v2, PROXY */
		buf[13] = 0x11; /* TCP over IPv4 */
		memcpy(buf + 16, &s4.sin_addr, 4);
		memcpy(buf + 20, &d4.sin_addr, 4);
		memcpy(buf + 24, &s4.sin_port, 2);
		memcpy(buf + 26, &d4.sin_port, 2);
		n += 12;
	} else if (srclen >= sizeof(struct sockaddr_in6) && src->sa_family == AF_INET6) {
		struct sockaddr_in6 s6, d6 = { .sin6_family = AF_INET6 };

		if (dstlen >= sizeof(d6) && dst->sa_family == AF_INET6)
			memcpy(&d6, dst, sizeof(d6));
		memcpy(&s6, src, sizeof(s6));
		buf[12] = 0x21;
		buf[13] = 0x21; /* TCP over IPv6 */
		memcpy(buf + 16, &s6.sin6_addr, 16);
		memcpy(buf + 32, &d6.sin6_addr, 16);
		memcpy(buf + 48, &s6.sin6_port, 2);
		memcpy(buf + 50, &d6.sin6_port, 2);
		n += 36;
	} else {
		buf[12] = 0x20; /* v2, LOCAL */
		buf[13] = 0x00;
	}
	buf[14] = (uint8_t)((n - 16) >> 8);
	buf[15] = (uint8_t)((n - 16) & 0xff);
	return n;
}
