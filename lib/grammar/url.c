/* SPDX-License-Identifier: MIT */
/*
 * url.c - segment URLs and peer daemon addresses
 *
 * Both parsers work on one borrowed string and produce malloc'ed parts. They follow the original
 * wormhole's ParseUrl/ValidateAddr tables, with every error fatal: an explicit port is decimal
 * 1..65535 (an empty one after ':' means "not given"), a netns name is an iproute2 name, a host is
 * [A-Za-z0-9.-] or an IP literal (IPv6 only in brackets), and a unix socket path is absolute and
 * fits in sun_path. Nothing here resolves names or touches the system.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "cleanup.h"
#include "errmsg.h"
#include "url.h"

#define HOST_MAX 253

#define fail	 ERRMSG_FAIL

const char *url_proto_name(enum url_proto p)
{
	switch (p) {
	case URL_PROTO_TCP:
		return "tcp";
	case URL_PROTO_UDP:
		return "udp";
	case URL_PROTO_UNIX:
		return "unix";
	case URL_PROTO_NONE:
	default:
		return "";
	}
}

static bool char_is_name(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

bool netns_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	if (n < 1 || n > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!char_is_name(name[i]))
			return false;
	return true;
}

bool fd_name_valid(const char *name)
{
	bool digits = true;

	if (!name || !netns_name_valid(name))
		return false;
	for (const char *p = name; *p; p++)
		if (*p < '0' || *p > '9')
			digits = false;
	return !digits;
}

/* A host name or IPv4 literal: 1..253 chars of [A-Za-z0-9.-], starting with a letter or digit. */
static bool host_name_valid(const char *s, size_t n)
{
	if (n < 1 || n > HOST_MAX)
		return false;
	if (s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-'))
			return false;
	}
	return true;
}

static bool ipv6_valid(const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;

	if (n < 2 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/* Strict decimal 1..65535; n == 0 is the caller's business. */
static int port_parse(const char *s, size_t n, uint16_t *ret)
{
	unsigned v = 0;

	if (n < 1 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

/*
 * Splits "[v6]", "[v6]:port", "host", "host:port", ":port", "" (any of them with an empty port
 * after ':'). On success *ret_host points into @s (length *ret_hostlen, 0 if none) and *ret_port is
 * 0 if not given.
 */
static int hostport_split(const char *s, const char **ret_host, size_t *ret_hostlen,
			  uint16_t *ret_port, char **reterr)
{
	const char *host = s, *port = NULL, *colon;
	size_t hostlen;
	uint16_t p = 0;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end)
			return fail(reterr, "unterminated '[' in '%s'", s);
		host = s + 1;
		hostlen = (size_t)(end - host);
		if (!ipv6_valid(host, hostlen))
			return fail(reterr, "invalid IPv6 address '%.*s'", (int)hostlen, host);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return fail(reterr, "unexpected '%s' after ']'", end + 1);
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':')) {
			const char *last = strrchr(s, ':');

			if (ipv6_valid(s, strlen(s)) || ipv6_valid(s, (size_t)(last - s)))
				return fail(reterr, "IPv6 address '%s' needs brackets ('[::1]:80')",
					    s);
			return fail(reterr, "only one port is allowed in '%s'", s);
		}
		hostlen = colon ? (size_t)(colon - s) : strlen(s);
		if (hostlen > 0 && !host_name_valid(s, hostlen))
			return fail(reterr, "invalid host '%.*s'", (int)hostlen, s);
		if (colon)
			port = colon + 1;
	}
	if (port && port[0] != '\0' && port_parse(port, strlen(port), &p) < 0)
		return fail(reterr, "invalid port '%s'", port);

	*ret_host = host;
	*ret_hostlen = hostlen;
	*ret_port = p;
	return 0;
}

static bool has_ctl_char(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int unix_path_check(const char *path, char **reterr)
{
	if (path[0] != '/')
		return fail(reterr, "unix socket path '%s' must be absolute", path);
	if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return fail(reterr, "unix socket path '%s' is too long (at most %zu bytes)", path,
			    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
	if (has_ctl_char(path))
		return fail(reterr, "unix socket path contains control characters");
	if (path[strlen(path) - 1] == '/')
		return fail(reterr, "unix socket path '%s' names a directory", path);
	return 0;
}

void url_done(struct url *u)
{
	if (!u)
		return;
	free(u->ns);
	free(u->host);
	free(u->path);
	free(u->fd_name);
	*u = (struct url){};
}

/* "fd:NAME" with a NAME that is not all digits ("fd:80" is host "fd", port 80). Written with
 * lengths, not strspn() on s + 3: gcc 12's -Wstringop-overread misreads that under ASan. */
static bool url_is_fd(const char *s)
{
	size_t n = strlen(s), digits;

	if (n <= 3 || memcmp(s, "fd:", 3) != 0 || strstr(s, "://"))
		return false;
	for (digits = 0; digits < n - 3 && s[3 + digits] >= '0' && s[3 + digits] <= '9'; digits++)
		;
	return digits != n - 3;
}

int url_parse(const char *s, struct url *ret, char **reterr)
{
	_cleanup_free_ char *ns = NULL, *host = NULL, *path = NULL;
	enum url_proto proto = URL_PROTO_NONE;
	const char *rest = s, *sep, *at, *h;
	size_t hlen;
	uint16_t port = 0;
	int r;

	if (reterr)
		*reterr = NULL;

	/* fd:NAME; "fd:80" (all digits) stays host "fd", port 80 */
	if (url_is_fd(s)) {
		if (!fd_name_valid(s + 3))
			return fail(reterr,
				    "invalid descriptor name '%s' in '%s' (expected "
				    "[A-Za-z0-9._-], up to 255, as in FileDescriptorName=)",
				    s + 3, s);
		path = strdup(s + 3);
		if (!path)
			return -ENOMEM;
		*ret = (struct url){ .fd_name = TAKE_PTR(path) };
		return 0;
	}

	sep = strstr(s, "://");
	if (sep) {
		size_t n = (size_t)(sep - s);

		if (n == 3 && strncmp(s, "tcp", 3) == 0)
			proto = URL_PROTO_TCP;
		else if (n == 3 && strncmp(s, "udp", 3) == 0)
			proto = URL_PROTO_UDP;
		else if (n == 4 && strncmp(s, "unix", 4) == 0)
			proto = URL_PROTO_UNIX;
		else
			return fail(reterr, "invalid protocol '%.*s' (expected tcp, udp or unix)",
				    (int)n, s);
		rest = sep + 3;
	}

	if (proto == URL_PROTO_UNIX) {
		if (strchr(rest, '@'))
			return fail(reterr, "a namespace is not supported with unix sockets");
		/* A ':' inside a path is refused too: it reads like a port. */
		if (strchr(rest, ':'))
			return fail(reterr, "a port is not supported with unix sockets");
		if (rest[0] != '\0') {
			r = unix_path_check(rest, reterr);
			if (r < 0)
				return r;
			path = strdup(rest);
			if (!path)
				return -ENOMEM;
		}
		*ret = (struct url){ .proto = proto, .path = TAKE_PTR(path) };
		return 0;
	}

	at = strchr(rest, '@');
	if (at) {
		size_t n = (size_t)(at - rest);

		if (strchr(at + 1, '@'))
			return fail(reterr, "only one namespace is allowed");
		ns = strndup(rest, n);
		if (!ns)
			return -ENOMEM;
		if (!netns_name_valid(ns))
			return fail(reterr, "invalid netns name '%s'", ns);
		rest = at + 1;
	}

	r = hostport_split(rest, &h, &hlen, &port, reterr);
	if (r < 0)
		return r;
	if (hlen > 0) {
		host = strndup(h, hlen);
		if (!host)
			return -ENOMEM;
	}

	*ret = (struct url){
		.proto = proto,
		.ns = TAKE_PTR(ns),
		.host = TAKE_PTR(host),
		.port = port,
	};
	return 0;
}

void peer_addr_done(struct peer_addr *a)
{
	if (!a)
		return;
	free(a->host);
	free(a->path);
	*a = (struct peer_addr){};
}

int peer_addr_parse(const char *s, bool allow_unix, struct peer_addr *ret, char **reterr)
{
	_cleanup_free_ char *host = NULL, *path = NULL;
	const char *rest = s, *sep, *h;
	size_t hlen;
	uint16_t port = 0;
	int r;

	if (reterr)
		*reterr = NULL;

	sep = strstr(s, "://");
	if (sep) {
		size_t n = (size_t)(sep - s);

		if (n == 4 && strncmp(s, "unix", 4) == 0) {
			rest = sep + 3;
			if (!allow_unix)
				return fail(reterr, "a unix socket is not a peer address");
			if (rest[0] == '\0')
				return fail(reterr, "unix:// needs a socket path");
			/* Relative paths are fine here, as in the original (-H unix://./socket). */
			if (strlen(rest) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
				return fail(reterr, "unix socket path '%s' is too long", rest);
			if (has_ctl_char(rest))
				return fail(reterr, "unix socket path contains control characters");
			path = strdup(rest);
			if (!path)
				return -ENOMEM;
			*ret = (struct peer_addr){ .is_unix = true, .path = TAKE_PTR(path) };
			return 0;
		}
		if (n != 3 || strncmp(s, "tcp", 3) != 0)
			return fail(reterr, "invalid protocol '%.*s' (expected tcp%s)", (int)n, s,
				    allow_unix ? " or unix" : "");
		rest = sep + 3;
	}

	if (strchr(rest, '@'))
		return fail(reterr, "invalid peer address '%s'", s);
	r = hostport_split(rest, &h, &hlen, &port, reterr);
	if (r < 0)
		return r;
	host = strndup(h, hlen);
	if (!host)
		return -ENOMEM;

	*ret = (struct peer_addr){
		.host = TAKE_PTR(host),
		.port = port ? port : PEER_DEFAULT_PORT,
	};
	return 0;
}
