/* SPDX-License-Identifier: MIT */
/*
 * tail-socket.c - the socket tail: connect to a tail's address, inside its namespace
 *
 * The address is resolved once, when the tail is completed (at creation, or when the trigger
 * ran); each connection then creates its socket in the tail's namespace and connects without
 * blocking (lib/net/connector). A refusal is retried (until --connect-timeout) only where something
 * may still be starting: a segment with a trigger, a tail inside a container (docker-ns,
 * docker-run), or any tail when the daemon was given --connect-timeout; a plain tail that refuses
 * fails the connection at once instead of keeping the client waiting; so does every tail of a
 * balancing segment (the connection goes on to the next tail). The namespace fd is duplicated
 * per open: a container restart replaces the endpoint's while a connect may still be retrying.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "connector.h"
#include "errmsg.h"
#include "netns.h"
#include "segment.h"
#include "spec.h"
#include "tail.h"

struct socket_open {
	struct connector *connector;
	int nsfd;
	tail_opened_fn done;
	void *userdata;
};

static void socket_cancel(void *handle)
{
	struct socket_open *o = handle;

	connector_free(o->connector);
	safe_close(o->nsfd);
	free(o);
}

static void on_connected(struct connector *cn, int fd, void *userdata)
{
	struct socket_open *o = userdata;
	tail_opened_fn done = o->done;
	void *ud = o->userdata;

	socket_cancel(o);
	done(ud, fd < 0 ? fd : 0, RELAY_END_FD(fd < 0 ? -EBADF : fd));
}

/* Whether a refusal from @t may mean "not up yet" rather than "down" (see the top). A balancing
 * segment never waits on one tail: the connection goes on to the next one at once. */
static bool socket_retry(const struct segment *s, const struct segment_tail *t)
{
	if (s->route == SEGMENT_ROUTE_BALANCE)
		return false;
	return s->d->connect_timeout_set || (s->sseg && s->sseg->n_trig > 0) || t->ep.container ||
	       t->ep.container_id;
}

static int socket_open(struct segment *s, const struct segment_tail *t, tail_opened_fn done,
		       void *userdata, void **ret_handle)
{
	struct socket_open *o = malloc(sizeof(*o));
	int r;

	if (!o)
		return -ENOMEM;
	*o = (struct socket_open){ .nsfd = -EBADF, .done = done, .userdata = userdata };
	if (t->ep.nsfd >= 0) {
		o->nsfd = fcntl(t->ep.nsfd, F_DUPFD_CLOEXEC, 3);
		if (o->nsfd < 0) {
			r = -errno;
			free(o);
			return r;
		}
	}
	r = connector_new_flags(
		s->d->loop, o->nsfd, &t->sa.sa, t->salen, SOCK_STREAM, s->d->connect_timeout_usec,
		socket_retry(s, t) ? 0 : CONNECTOR_NO_RETRY, on_connected, o, &o->connector);
	if (r < 0) {
		safe_close(o->nsfd);
		free(o);
		return r;
	}
	*ret_handle = o;
	return 0;
}

static int socket_open_dgram(struct segment *s, const struct segment_tail *t)
{
	int fd, r;

	fd = netns_socket(t->ep.nsfd, t->sa.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	if (connect(fd, &t->sa.sa, t->salen) < 0) {
		r = -errno;
		safe_close(fd);
		return r;
	}
	return fd;
}

/* Defaults for the tail, its address, and the check that it is not the head itself. */
static int socket_complete(struct segment *s, struct segment_tail *st, char **ret_error)
{
	struct endpoint *t = &st->ep, *h = &s->head;
	_cleanup_free_ char *url = NULL;
	int r;

	if (t->proto == URL_PROTO_NONE)
		t->proto = t->path ? URL_PROTO_UNIX
				   : (h->proto == URL_PROTO_UNIX ? URL_PROTO_TCP : h->proto);
	if ((t->proto == URL_PROTO_UDP) != (h->proto == URL_PROTO_UDP))
		return errmsg_set_errno(ret_error, -EPROTOTYPE,
					"segment '%s': a %s head cannot feed a %s tail", s->id,
					url_proto_name(h->proto), url_proto_name(t->proto));
	if (t->proto != URL_PROTO_UNIX) {
		if (!t->host) {
			t->host = strdup("127.0.0.1");
			if (!t->host)
				return -ENOMEM;
		}
		if (t->port == 0)
			t->port = h->proto == URL_PROTO_UNIX ? 0 : h->port;
		if (t->port == 0)
			return errmsg_set_errno(ret_error, -EDESTADDRREQ,
						"segment '%s': the tail needs a port", s->id);
	}
	url = endpoint_url(t, true);
	if (t->proto == URL_PROTO_UNIX)
		r = endpoint_unix_sockaddr(t->path, &st->sa, &st->salen);
	else
		r = endpoint_resolve(t->host, t->port, endpoint_socktype(t->proto), &st->sa,
				     &st->salen);
	if (r == -EADDRNOTAVAIL) { /* endpoint_resolve(): the name did not resolve */
		(void)errmsg_set(ret_error,
				 "segment '%s': tail '%s': the name '%s' did not resolve", s->id,
				 url ?: "", t->host);
		return r;
	}
	if (r < 0)
		return errmsg_set_errno(ret_error, r, "segment '%s': tail '%s'", s->id, url ?: "");

	if (t->proto == h->proto && netns_same(t->nsfd, h->nsfd)) {
		bool same = false;

		if (t->proto == URL_PROTO_UNIX)
			same = h->path && strcmp(h->path, t->path) == 0;
		else
			same = t->port == h->port &&
			       (strcmp(t->host, h->host) == 0 || strcmp(h->host, "0.0.0.0") == 0 ||
				strcmp(h->host, "::") == 0);
		if (same)
			return errmsg_set_errno(ret_error, -ELOOP,
						"segment '%s': the tail '%s' is the head itself",
						s->id, url ?: "");
	}
	return 0;
}

const struct tail_ops tail_socket_ops = {
	.kind = "socket",
	.complete = socket_complete,
	.open = socket_open,
	.cancel = socket_cancel,
	.open_dgram = socket_open_dgram,
};
