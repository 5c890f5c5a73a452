/* SPDX-License-Identifier: MIT */
/*
 * peer-links.c - a peer and its dialed link: references, holds, dial, reconnect with backoff
 *
 * A peer is found or made by peer_manager_get() (resolved once, when asked for) and lives while
 * it has references. It has at most one dialed link, made on demand by peer_open() or, while
 * the peer is held, by its reconnect timer; a link that goes down is freed at once and a held
 * peer dials again after a backoff that doubles from 200 ms up to 10 s and resets once a link
 * comes up. A named peer (one that dialed us) is never dialed: its link is borrowed from the
 * accepted list of link-manager.c.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <systemd/sd-event.h>

#include "cleanup.h"
#include "errmsg.h"
#include "h2-link.h"
#include "link-manager-internal.h"
#include "link-manager.h"
#include "peer-key.h"
#include "sockaddr.h"
#include "stream.h"
#include "time-util.h"
#include "tls-psk.h"
#include "url.h"

#define BACKOFF_MIN_USEC (200ULL * 1000)
#define BACKOFF_MAX_USEC (10ULL * 1000000)

/* ---- links -------------------------------------------------------------------------------- */

static int on_link_stream(struct h2_link *l, const char *path, struct stream *st, void *userdata);
static void on_link_up(struct h2_link *l, void *userdata);
static void on_link_down(struct h2_link *l, int error, char *reason, void *userdata);

/* userdata of a dialed link: its peer; of an accepted one: its struct accepted (told apart
 * by looking the link up in the accepted list) */
static const struct h2_link_ops dialed_ops = {
	.up = on_link_up,
	.stream = on_link_stream,
	.down = on_link_down,
};

static int on_link_stream(struct h2_link *l, const char *path, struct stream *st, void *userdata)
{
	struct peer *p = userdata;
	struct peer_manager *m = p->m;

	if (!m || !m->ops->stream)
		return -ECONNREFUSED;
	return m->ops->stream(m, l, path, st, m->userdata);
}

static void on_link_up(struct h2_link *l, void *userdata)
{
	struct peer *p = userdata;
	struct peer_manager *m = p->m;

	p->backoff = 0;
	p->ups++;
	p->up_since = now_usec();
	if (!m)
		return;
	if (m->ops->link_event)
		m->ops->link_event(m, l, p->name, true, true, 0, NULL, m->userdata);
	if (p->holds > 0 && m->ops->peer_up)
		m->ops->peer_up(m, p, m->userdata);
}

static int on_reconnect(sd_event_source *src, uint64_t usec, void *userdata);

static void peer_backoff(struct peer *p)
{
	p->backoff = p->backoff ? p->backoff * 2 : BACKOFF_MIN_USEC;
	if (p->backoff > BACKOFF_MAX_USEC)
		p->backoff = BACKOFF_MAX_USEC;
	p->next_dial = now_usec() + p->backoff;
}

static void peer_arm_reconnect(struct peer *p)
{
	uint64_t now = now_usec();
	uint64_t wait = p->next_dial > now ? p->next_dial - now : 0;

	if (!p->m || p->holds == 0 || p->named)
		return;
	if (!p->reconnect) {
		if (sd_event_add_time_relative(p->m->event, &p->reconnect, CLOCK_MONOTONIC, wait,
					       10 * 1000, on_reconnect, p) < 0)
			return;
	} else {
		(void)sd_event_source_set_time_relative(p->reconnect, wait);
		(void)sd_event_source_set_enabled(p->reconnect, SD_EVENT_ONESHOT);
	}
}

static void on_link_down(struct h2_link *l, int error, char *reason, void *userdata)
{
	_cleanup_free_ char *why = reason;
	struct peer *p = userdata;
	struct peer_manager *m = p->m;
	bool was_up = p->backoff == 0 && p->next_dial == 0;

	(void)was_up;
	if (p->link == l) {
		struct h2_link_stats x;

		h2_link_get_stats(l, &x);
		p->gone.streams_total += x.streams_total;
		p->gone.bytes_in += x.bytes_in;
		p->gone.bytes_out += x.bytes_out;
		if (x.rtt_usec)
			p->gone.rtt_usec = x.rtt_usec;
		p->link = NULL;
	}
	/* what came over it (requests, leases) loses its origin, as for an accepted link */
	if (m && m->ops->link_gone)
		m->ops->link_gone(m, l, m->userdata);
	h2_link_free(l);
	peer_backoff(p);
	if (m && m->ops->link_event)
		m->ops->link_event(m, NULL, p->name, true, false, error, why, m->userdata);
	peer_arm_reconnect(p);
}

static int peer_dial(struct peer *p)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (!p->m)
		return -ENOTCONN;
	if (p->named)
		return -EHOSTUNREACH; /* it dials us; nothing to dial back */
	fd = socket(p->sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, &p->sa.sa, p->salen) < 0 && errno != EINPROGRESS) {
		r = -errno;
		peer_backoff(p);
		return r;
	}
	r = h2_link_new(p->m->event, fd, p->m->client_ctx, true, &dialed_ops, p, &p->link);
	if (r < 0)
		return r;
	TAKE_FD(fd);
	return 0;
}

static int on_reconnect(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct peer *p = userdata;

	if (p->link || p->holds == 0 || !p->m)
		return 0;
	if (peer_dial(p) < 0)
		peer_arm_reconnect(p);
	return 0;
}

/* A new peer "host:port" (*@name taken) at @sa, on the manager's list, one reference */
static int peer_new(struct peer_manager *m, char **name, const struct sockaddr *sa, socklen_t salen,
		    struct peer **ret)
{
	struct peer *p;

	if (salen > sizeof(p->sa))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	memcpy(&p->sa, sa, salen);
	p->salen = salen;
	p->m = m;
	p->refs = 1;
	p->name = TAKE_PTR(*name);
	p->next = m->peers;
	if (m->peers)
		m->peers->prev = p;
	m->peers = p;
	*ret = p;
	return 0;
}

static int peer_get(struct peer_manager *m, const char *host, uint16_t port, bool resolve,
		    struct peer **ret, char **ret_error)
{
	_cleanup_free_ char *name = NULL;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = resolve ? 0 : AI_NUMERICHOST },
			*ai = NULL;
	char portstr[8];
	struct peer *p;
	int r;

	bool by_name = port == 0;

	*ret_error = NULL;
	if (by_name) {
		/* a daemon that dialed us under this name is reached by it, through its link */
		p = peer_manager_get_named(m, host);
		if (p) {
			*ret = p;
			return 0;
		}
		port = PEER_DEFAULT_PORT;
	}
	if (asprintf(&name, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, (unsigned)port) < 0)
		return -ENOMEM;
	for (p = m->peers; p; p = p->next)
		if (strcmp(p->name, name) == 0) {
			*ret = peer_ref(p);
			return 0;
		}
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	r = getaddrinfo(host, portstr, &hints, &ai);
	if (r != 0 || !ai) {
		if (!resolve && r == EAI_NONAME)
			(void)errmsg_set(ret_error,
					 "'%s' is neither a numeric address nor a daemon linked "
					 "here (a host name is not looked up here)",
					 host);
		else
			(void)errmsg_set(ret_error, "cannot resolve peer '%s': %s%s", host,
					 r ? gai_strerror(r) : "no address",
					 by_name ? " (and no daemon of that name has a link here)"
						 : "");
		return -EADDRNOTAVAIL;
	}
	r = peer_new(m, &name, ai->ai_addr, ai->ai_addrlen, ret);
	freeaddrinfo(ai);
	return r;
}

int peer_manager_get_resolved(struct peer_manager *m, const char *host, uint16_t port,
			      const struct sockaddr *sa, socklen_t salen, struct peer **ret)
{
	_cleanup_free_ char *name = NULL;

	if (asprintf(&name, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, (unsigned)port) < 0)
		return -ENOMEM;
	for (struct peer *p = m->peers; p; p = p->next)
		if (strcmp(p->name, name) == 0) { /* resolved meanwhile by someone else */
			*ret = peer_ref(p);
			return 0;
		}
	return peer_new(m, &name, sa, salen, ret);
}

int peer_manager_get(struct peer_manager *m, const char *host, uint16_t port, struct peer **ret,
		     char **ret_error)
{
	return peer_get(m, host, port, true, ret, ret_error);
}

int peer_manager_get_arg(struct peer_manager *m, const char *arg, bool resolve, struct peer **ret,
			 char **ret_error)
{
	_cleanup_free_ char *err = NULL;
	struct peer_addr pa = { 0 };
	int r;

	*ret_error = NULL;
	r = peer_addr_parse(arg, false, &pa, &err);
	if (r < 0)
		return ERRMSG_RET(ret_error, r, "'%s': %s", arg, err ?: strerror(-r));
	r = peer_get(m, pa.host && pa.host[0] ? pa.host : "127.0.0.1",
		     strchr(arg, ':') ? pa.port : 0, resolve, ret, ret_error);
	peer_addr_done(&pa);
	return r;
}

struct peer *peer_ref(struct peer *p)
{
	if (p)
		p->refs++;
	return p;
}

struct peer *peer_unref(struct peer *p)
{
	if (!p || --p->refs > 0)
		return NULL;
	if (p->m) {
		if (p->prev)
			p->prev->next = p->next;
		else
			p->m->peers = p->next;
		if (p->next)
			p->next->prev = p->prev;
	}
	if (!p->named)
		h2_link_free(p->link);
	sd_event_source_disable_unref(p->reconnect);
	free(p->name);
	free(p);
	return NULL;
}

const char *peer_name(const struct peer *p)
{
	return p->name;
}

bool peer_link_up(const struct peer *p)
{
	return p->link && h2_link_is_up(p->link);
}

unsigned peer_streams(const struct peer *p)
{
	return p->link && h2_link_is_up(p->link) ? h2_link_streams(p->link) : 0;
}

bool peer_is_named(const struct peer *p)
{
	return p->named;
}

void peer_hold(struct peer *p, bool hold)
{
	if (hold) {
		if (p->holds++ == 0 && !p->link)
			peer_arm_reconnect(p);
		return;
	}
	if (p->holds > 0)
		p->holds--;
	if (p->holds == 0 && p->reconnect)
		(void)sd_event_source_set_enabled(p->reconnect, SD_EVENT_OFF);
}

int lm_peer_open_internal(struct peer *p, const char *path, bool now, struct stream **ret)
{
	int r;

	if (!p->m)
		return -ENOTCONN;
	if (!p->link) {
		if (p->named)
			return -EHOSTUNREACH; /* its link is down: it dials again by itself */
		if (!now && p->next_dial > now_usec())
			return -EHOSTUNREACH;
		r = peer_dial(p);
		if (r < 0)
			return r;
	}
	return h2_link_open(p->link, path, ret);
}

int peer_open(struct peer *p, const char *path, struct stream **ret)
{
	return lm_peer_open_internal(p, path, false, ret);
}
