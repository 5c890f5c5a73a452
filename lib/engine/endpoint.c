/* SPDX-License-Identifier: MIT */
/*
 * endpoint.c - endpoints: copies, display, and address resolution for heads and tails
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "cleanup.h"
#include "endpoint.h"

void endpoint_done(struct endpoint *e)
{
	free(e->ns_name);
	free(e->host);
	free(e->path);
	free(e->fd_name);
	free(e->container);
	free(e->container_id);
	e->nsfd = safe_close(e->nsfd);
	*e = ENDPOINT_EMPTY;
}

static int strdup_or_null(const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

int endpoint_copy(struct endpoint *dst, const struct endpoint *src)
{
	struct endpoint e = { .proto = src->proto, .port = src->port, .nsfd = -EBADF };

	/* the container too: a child's head inside its parent's container lists as docker:NAME@ */
	if (strdup_or_null(src->ns_name, &e.ns_name) < 0 ||
	    strdup_or_null(src->host, &e.host) < 0 || strdup_or_null(src->path, &e.path) < 0 ||
	    strdup_or_null(src->container, &e.container) < 0 ||
	    strdup_or_null(src->container_id, &e.container_id) < 0) {
		endpoint_done(&e);
		return -ENOMEM;
	}
	if (src->nsfd >= 0) {
		/* each endpoint owns its fd: the original shared one and closed it twice */
		e.nsfd = fcntl(src->nsfd, F_DUPFD_CLOEXEC, 3);
		if (e.nsfd < 0) {
			int r = -errno;

			endpoint_done(&e);
			return r;
		}
	}
	*dst = e;
	return 0;
}

static bool host_is_v6(const char *h)
{
	return h && strchr(h, ':');
}

char *endpoint_url(const struct endpoint *e, bool with_ns)
{
	const char *proto = url_proto_name(e->proto == URL_PROTO_NONE ? URL_PROTO_TCP : e->proto);
	const char *host = e->host ?: "127.0.0.1";
	/* where it lives: "ns@" for a named netns, "docker:NAME@" for a container */
	bool ns = with_ns && (e->ns_name || e->container);
	const char *where = e->container ?: e->ns_name;
	char *s = NULL;
	int k;

	if (e->proto == URL_PROTO_UNIX)
		k = asprintf(&s, "unix://%s", e->path ?: "");
	else
		k = asprintf(&s, "%s://%s%s%s%s%s%s:%u", proto, ns && e->container ? "docker:" : "",
			     ns ? where : "", ns ? "@" : "", host_is_v6(host) ? "[" : "", host,
			     host_is_v6(host) ? "]" : "", (unsigned)e->port);
	return k < 0 ? NULL : s;
}

int endpoint_socktype(enum url_proto p)
{
	return p == URL_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
}

int endpoint_resolve(const char *host, uint16_t port, int socktype, union sockaddr_union *ret,
		     socklen_t *ret_len)
{
	struct addrinfo hints = { .ai_socktype = socktype };
	struct addrinfo *res = NULL;
	union sockaddr_union sa = { 0 };
	int r;

	if (inet_pton(AF_INET, host, &sa.in.sin_addr) == 1) {
		sa.in.sin_family = AF_INET;
		sa.in.sin_port = htons(port);
		*ret = sa;
		*ret_len = sizeof(sa.in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sa.in6.sin6_addr) == 1) {
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons(port);
		*ret = sa;
		*ret_len = sizeof(sa.in6);
		return 0;
	}
	r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0) {
		int e = errno;

		return r == EAI_SYSTEM && e > 0 ? -e : -EADDRNOTAVAIL;
	}
	if (!res || res->ai_addrlen > sizeof(sa)) {
		freeaddrinfo(res);
		return -EADDRNOTAVAIL;
	}
	memcpy(&sa, res->ai_addr, res->ai_addrlen);
	*ret_len = res->ai_addrlen;
	freeaddrinfo(res);
	if (sa.sa.sa_family == AF_INET)
		sa.in.sin_port = htons(port);
	else if (sa.sa.sa_family == AF_INET6)
		sa.in6.sin6_port = htons(port);
	else
		return -EAFNOSUPPORT;
	*ret = sa;
	return 0;
}

int endpoint_unix_sockaddr(const char *path, union sockaddr_union *ret, socklen_t *ret_len)
{
	union sockaddr_union sa = { .un.sun_family = AF_UNIX };

	if (!path || !*path)
		return -EDESTADDRREQ;
	if (strlen(path) >= sizeof(sa.un.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.un.sun_path, path);
	*ret = sa;
	*ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	return 0;
}
