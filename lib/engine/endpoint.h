/* SPDX-License-Identifier: MIT */
/*
 * endpoint.h - where a segment listens (its head) or connects (its tail)
 *
 * An endpoint is what the words of a spec say about one side of a segment: protocol, host, port
 * or unix path, and the network namespace (a named netns or a container's) it lives in. Words
 * overwrite only the parts they give; defaults are filled when the endpoint is used. Addresses
 * are resolved once, when a head binds or a tail is completed, never per connection.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sockaddr.h"
#include "url.h"

struct endpoint {
	enum url_proto proto; /* URL_PROTO_NONE until defaulted */
	char *ns_name;	      /* for display: iproute2 netns name */
	int nsfd;	      /* -1: the daemon's own namespace */
	char *host;	      /* NULL until defaulted */
	char *path;	      /* unix sockets */
	char *fd_name;	      /* a head from fd:NAME (head-fd.c) */
	uint16_t port;	      /* 0: not set (head: ephemeral) */
	char *container;      /* for display: the container the namespace belongs to */
	char *container_id;   /* and its id, to follow it */
	bool down;	      /* its container is not running: refuse, do not listen */
};

#define ENDPOINT_EMPTY ((struct endpoint){ .nsfd = -EBADF })

/**
 * endpoint_copy() - Deep copy (the namespace fd is duplicated). Return: 0, -ENOMEM, -errno
 */
int endpoint_copy(struct endpoint *dst, const struct endpoint *src);

/**
 * endpoint_done() - Free the strings, close the namespace fd, reset to an empty endpoint
 */
void endpoint_done(struct endpoint *e);

/**
 * endpoint_url() - Format for display ("tcp://ns@127.0.0.1:9000", "tcp://docker:db@...")
 * @with_ns:	include where it lives ("ns@") or not
 * Return: malloc'ed string or NULL on ENOMEM
 */
char *endpoint_url(const struct endpoint *e, bool with_ns);

/**
 * endpoint_socktype() - Return: SOCK_DGRAM for udp, else SOCK_STREAM
 */
int endpoint_socktype(enum url_proto p);

/**
 * endpoint_resolve() - @host (numeric, or a name through getaddrinfo: control path only) and
 * @port to a socket address
 * Return: 0, -EADDRNOTAVAIL (the name did not resolve), -EAFNOSUPPORT, -errno
 */
int endpoint_resolve(const char *host, uint16_t port, int socktype, union sockaddr_union *ret,
		     socklen_t *ret_len);

/**
 * endpoint_unix_sockaddr() - A unix socket address for @path
 * Return: 0, -EDESTADDRREQ (empty), -ENAMETOOLONG
 */
int endpoint_unix_sockaddr(const char *path, union sockaddr_union *ret, socklen_t *ret_len);
