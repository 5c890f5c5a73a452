/* SPDX-License-Identifier: MIT */
/*
 * url.h - segment URLs and peer daemon addresses
 *
 * Segment URL (the argument of the `url` word): [tcp|udp://][ns@][host][:port], IPv6 hosts in
 * brackets, unix:///absolute/path for a stream socket, or fd:NAME for a listener the service
 * manager passed under NAME (FileDescriptorName=; 1..255 chars of [A-Za-z0-9._-], not all
 * digits, since fd:80 stays host "fd", port 80). Parsing follows the original wormhole's
 * ParseUrl table, but strictly: an explicit port must be a decimal number in 1..65535, a netns name
 * must be a valid iproute2 name (no '/', not "." or ".."), and every error stops the parse.
 *
 * Peer address (the argument of remote/tunnel/udptunnel and -H): host[:port] or [v6]:port, default
 * port 9999, or unix:///path (only for -H).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum url_proto {
	URL_PROTO_NONE = 0, /* not given: inherit or default to tcp */
	URL_PROTO_TCP,
	URL_PROTO_UDP,
	URL_PROTO_UNIX,
};

struct url {
	enum url_proto proto;
	char *ns;      /* iproute2 netns name, NULL if not given */
	char *host;    /* host without brackets, NULL if not given */
	char *path;    /* unix socket path, NULL unless proto is unix and a path was given */
	char *fd_name; /* fd:NAME, an inherited listener; nothing else is set then */
	uint16_t port; /* 0: not given */
};

#define PEER_DEFAULT_PORT 9999

struct peer_addr {
	bool is_unix;
	char *host; /* without brackets; "" for the local host (":port"); NULL for unix */
	char *path; /* unix socket path */
	uint16_t port;
};

/**
 * url_parse() - Parse a segment URL
 * @s:		the text (borrowed)
 * @ret:	filled on success only; release with url_done()
 * @reterr:	on failure, a malloc'ed message without the word name (e.g. "invalid port 'abc'")
 *
 * Return: 0, -EINVAL on a syntax error, -ENOMEM
 */
int url_parse(const char *s, struct url *ret, char **reterr);

/**
 * url_done() - Free the strings of @u and zero it (accepts a zeroed struct)
 */
void url_done(struct url *u);

/**
 * url_proto_name() - Return: "tcp", "udp", "unix" or "" for URL_PROTO_NONE
 */
const char *url_proto_name(enum url_proto p);

/**
 * netns_name_valid() - Whether @name is acceptable as an iproute2 netns name
 *
 * Return: true for 1..255 chars of [A-Za-z0-9._-], not "." or ".."
 */
bool netns_name_valid(const char *name);

/**
 * fd_name_valid() - Whether @name is acceptable in fd:NAME (see above)
 */
bool fd_name_valid(const char *name);

/**
 * peer_addr_parse() - Parse a peer daemon address
 * @s:		"host", "host:port", "[v6]:port", ":port" or (if @allow_unix) "unix:///path"
 * @allow_unix:	whether unix:// is acceptable (for -H, not for remote/tunnel)
 * @ret:	filled on success only; release with peer_addr_done()
 * @reterr:	on failure, a malloc'ed message
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int peer_addr_parse(const char *s, bool allow_unix, struct peer_addr *ret, char **reterr);

/**
 * peer_addr_done() - Free the strings of @a and zero it
 */
void peer_addr_done(struct peer_addr *a);
