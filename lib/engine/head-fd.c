/* SPDX-License-Identifier: MIT */
/*
 * head-fd.c - a head from a listener the service manager passed: `url fd:NAME`
 *
 * systemd (or anything speaking its socket-activation protocol) binds the socket before the daemon
 * runs and passes it under FileDescriptorName=NAME; wormholed keeps the passed descriptors in a
 * table (struct daemon_hooks.inherited_fd). Starting the head takes a duplicate of the one named
 * NAME and serves it like a listener the daemon bound itself (head-listen.c): a TCP or unix
 * stream listener accepts, a UDP socket gets a datagram relay. The head's protocol, address and
 * port are read from the socket, so `list` shows where it really listens. Stopping closes only
 * the duplicate: the passed socket stays open in the daemon (and in the socket unit), so a
 * deleted and re-created segment, or a restarted daemon, listens on the very same socket and no
 * connection is refused meanwhile. A missing NAME is an error of this segment only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cleanup.h"
#include "errmsg.h"
#include "head.h"
#include "segment.h"

/* Fills s->head from the socket: protocol, host, port or path. */
static int fd_describe(struct segment *s, int fd, char **ret_error)
{
	struct endpoint *h = &s->head;
	union sockaddr_union sa = { 0 };
	socklen_t salen = sizeof(sa);
	int type = 0, listening = 0;
	socklen_t tl = sizeof(type), ll = sizeof(listening);
	char host[INET6_ADDRSTRLEN];
	const char *name = h->fd_name;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    getsockname(fd, &sa.sa, &salen) < 0)
		return errmsg_set(ret_error, "head fd:%s: the descriptor passed is not a socket",
				  name)
			       ?: -ENOTSOCK;
	if (type == SOCK_STREAM &&
	    (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) < 0 || !listening))
		return errmsg_set(
			       ret_error,
			       "head fd:%s: the socket passed is not listening (ListenStream= or "
			       "ListenDatagram=, without Accept=yes)",
			       name)
			       ?: -EINVAL;
	if (type != SOCK_STREAM && type != SOCK_DGRAM)
		return errmsg_set(ret_error, "head fd:%s: only stream and datagram sockets serve",
				  name)
			       ?: -EPROTONOSUPPORT;
	free(h->host);
	h->host = NULL;
	switch (sa.sa.sa_family) {
	case AF_UNIX:
		if (type != SOCK_STREAM)
			return errmsg_set(ret_error,
					  "head fd:%s: unix datagram sockets are not served", name)
				       ?: -EPROTONOSUPPORT;
		h->proto = URL_PROTO_UNIX;
		free(h->path);
		h->path = strndup(sa.un.sun_path, sizeof(sa.un.sun_path));
		return h->path ? 0 : -ENOMEM;
	case AF_INET:
		inet_ntop(AF_INET, &sa.in.sin_addr, host, sizeof(host));
		h->port = ntohs(sa.in.sin_port);
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &sa.in6.sin6_addr, host, sizeof(host));
		h->port = ntohs(sa.in6.sin6_port);
		break;
	default:
		return errmsg_set(ret_error, "head fd:%s: address family %d is not served", name,
				  sa.sa.sa_family)
			       ?: -EAFNOSUPPORT;
	}
	h->proto = type == SOCK_DGRAM ? URL_PROTO_UDP : URL_PROTO_TCP;
	h->host = strdup(host);
	return h->host ? 0 : -ENOMEM;
}

static int fd_start(struct segment *s, char **ret_error)
{
	const struct daemon_hooks *hk = s->d->hooks;
	const char *name = s->head.fd_name;
	int fd, r;

	if (!name)
		return -EINVAL;
	fd = hk && hk->inherited_fd ? hk->inherited_fd(s->d, name) : -ENOENT;
	if (fd < 0)
		return errmsg_set(
			       ret_error,
			       "head fd:%s: no socket named '%s' was passed to wormholed (a socket "
			       "unit with FileDescriptorName=%s and Service=wormholed.service)",
			       name, name, name)
			       ?: -ENOENT;
	r = fd_describe(s, fd, ret_error);
	if (r < 0)
		return r;
	/* a tail given as udp (or stream) must match what the socket is */
	if (s->tail.ep.proto != URL_PROTO_NONE &&
	    (s->tail.ep.proto == URL_PROTO_UDP) != (s->head.proto == URL_PROTO_UDP))
		return errmsg_set(ret_error, "head fd:%s is a %s socket, the tail is %s", name,
				  url_proto_name(s->head.proto), url_proto_name(s->tail.ep.proto))
			       ?: -EPROTOTYPE;
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return errmsg_set_errno(ret_error, -errno, "head fd:%s", name);
	/* the description is shared with the passed socket, which nobody else reads */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return head_listen_adopt(s, fd, ret_error);
}

static void fd_stop(struct segment *s)
{
	/* head-listen's stop closes only our duplicate; it tells the fd store nothing for us */
	head_listen_ops.stop(s);
}

static bool fd_active(const struct segment *s)
{
	return head_listen_ops.active(s);
}

const struct head_ops head_fd_ops = {
	.kind = "fd",
	.start = fd_start,
	.stop = fd_stop,
	.active = fd_active,
};
