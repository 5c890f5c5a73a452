/* SPDX-License-Identifier: MIT */
/*
 * link-manager.c - one link per peer, dialed on demand, kept up while held (link-manager.h)
 *
 * Peers live in a list on the manager, each with at most one dialed link. Accepted links live
 * in their own list; they carry what the other side opens (and what we open back on them, which
 * nobody does yet: the NAT case). A link's down() frees it at once; a held peer then arms its
 * reconnect timer with the backoff. Requests are small consumers of one "/ctl" stream each, woken
 * through a defer source so that nothing runs inside the link's own callbacks.
 *
 * This file holds the manager itself (listeners, accepted links and the names their daemons
 * claim, keys) and the peer_manager_*() queries. Peers and their dialed links are in
 * peer-links.c, requests in peer-requests.c; link-manager-internal.h holds what they share.
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

static int on_accepted_stream(struct h2_link *l, const char *path, struct stream *st,
			      void *userdata);
static void on_accepted_up(struct h2_link *l, void *userdata);
static void on_accepted_down(struct h2_link *l, int error, char *reason, void *userdata);

static const struct h2_link_ops accepted_ops = {
	.up = on_accepted_up,
	.stream = on_accepted_stream,
	.down = on_accepted_down,
};

static struct accepted *accepted_find(struct peer_manager *m, const struct h2_link *l)
{
	for (struct accepted *a = m->accepted; a; a = a->next)
		if (a->link == l)
			return a;
	return NULL;
}

static int on_accepted_stream(struct h2_link *l, const char *path, struct stream *st,
			      void *userdata)
{
	struct peer_manager *m = userdata;

	if (!m->ops->stream)
		return -ECONNREFUSED;
	return m->ops->stream(m, l, path, st, m->userdata);
}

static void on_accepted_up(struct h2_link *l, void *userdata)
{
	struct peer_manager *m = userdata;
	struct accepted *a = accepted_find(m, l);

	if (a)
		a->up_since = now_usec();
	if (m->ops->link_event)
		m->ops->link_event(m, l, h2_link_peer(l), false, true, 0, NULL, m->userdata);
}

static void on_accepted_down(struct h2_link *l, int error, char *reason, void *userdata)
{
	_cleanup_free_ char *why = reason;
	struct peer_manager *m = userdata;
	struct accepted *a = accepted_find(m, l);
	char peer[SOCKADDR_STR_MAX];

	snprintf(peer, sizeof(peer), "%s", h2_link_peer(l));
	for (struct peer *p = m->peers; p; p = p->next)
		if (p->named && p->link == l)
			p->link = NULL;
	if (m->ops->link_gone)
		m->ops->link_gone(m, l, m->userdata);
	if (a) {
		if (a->prev)
			a->prev->next = a->next;
		else
			m->accepted = a->next;
		if (a->next)
			a->next->prev = a->prev;
		free(a->name);
		free(a->instance);
		free(a);
	}
	h2_link_free(l);
	if (m->ops->link_event)
		m->ops->link_event(m, NULL, peer, false, false, error, why, m->userdata);
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct peer_manager *m = userdata;

	for (int i = 0; i < 32; i++) {
		struct accepted *a;
		int cfd, r;

		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return 0; /* EAGAIN, or EMFILE: the next event retries */
		a = calloc(1, sizeof(*a));
		if (!a) {
			safe_close(cfd);
			continue;
		}
		r = h2_link_new(m->event, cfd, m->server_ctx, false, &accepted_ops, m, &a->link);
		if (r < 0) {
			safe_close(cfd);
			free(a);
			continue;
		}
		a->next = m->accepted;
		if (m->accepted)
			m->accepted->prev = a;
		m->accepted = a;
	}
	return 0;
}

/* ---- the manager -------------------------------------------------------------------------- */

int peer_manager_new(sd_event *e, const struct peer_key *key, const struct peer_manager_ops *ops,
		     void *userdata, struct peer_manager **ret)
{
	struct peer_manager *m;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->event = sd_event_ref(e);
	m->ops = ops;
	m->userdata = userdata;
	r = tls_psk_ctx_new(key, false, &m->client_ctx);
	if (r >= 0)
		r = tls_psk_ctx_new(key, true, &m->server_ctx);
	if (r < 0) {
		peer_manager_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

struct peer_manager *peer_manager_free(struct peer_manager *m)
{
	if (!m)
		return NULL;
	for (unsigned i = 0; i < m->n_listeners; i++)
		m->listeners[i] = sd_event_source_disable_unref(m->listeners[i]);
	for (struct peer *p = m->peers; p; p = p->next)
		if (p->named)
			p->link = NULL; /* borrowed from an accepted link, freed next */
	while (m->accepted) {
		struct accepted *a = m->accepted;

		m->accepted = a->next;
		h2_link_free(a->link);
		free(a->name);
		free(a->instance);
		free(a);
	}
	while (m->peers) {
		struct peer *p = m->peers;

		m->peers = p->next;
		p->prev = p->next = NULL;
		p->link = h2_link_free(p->link);
		p->reconnect = sd_event_source_disable_unref(p->reconnect);
		p->m = NULL;
	}
	SSL_CTX_free(m->client_ctx);
	SSL_CTX_free(m->server_ctx);
	peer_keyring_free(m->keyring);
	sd_event_unref(m->event);
	free(m);
	return NULL;
}

static int parse_numeric(const char *host, uint16_t port, union sockaddr_union *ret,
			 socklen_t *ret_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	char portstr[8];

	snprintf(portstr, sizeof(portstr), "%u", (unsigned)(port ? port : PEER_DEFAULT_PORT));
	if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai)
		return -EINVAL;
	memcpy(ret, ai->ai_addr, ai->ai_addrlen);
	*ret_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int peer_manager_listen(struct peer_manager *m, const char *addr, char **ret_error)
{
	_cleanup_free_ char *err = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct peer_addr a = { 0 };
	union sockaddr_union sa;
	socklen_t salen;
	int r, one = 1;

	*ret_error = NULL;
	if (m->n_listeners >= LISTEN_MAX)
		return ERRMSG_FAIL(ret_error, "at most %d peer listeners", LISTEN_MAX);
	r = peer_addr_parse(addr, false, &a, &err);
	if (r < 0) {
		(void)errmsg_set(ret_error, "'%s': %s", addr, err ?: strerror(-r));
		return r;
	}
	r = parse_numeric(a.host && a.host[0] ? a.host : "0.0.0.0", a.port, &sa, &salen);
	if (r < 0) {
		(void)errmsg_set(ret_error, "'%s': not a numeric address", addr);
		peer_addr_done(&a);
		return -EINVAL;
	}
	peer_addr_done(&a);
	fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa.sa.sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &sa.sa, salen) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		(void)errmsg_set(ret_error, "cannot listen on '%s': %s", addr, strerror(-r));
		return r;
	}
	r = peer_manager_listen_fd(m, fd, ret_error);
	if (r < 0)
		return r;
	TAKE_FD(fd);
	return 0;
}

int peer_manager_listen_fd(struct peer_manager *m, int fd, char **ret_error)
{
	int r;

	*ret_error = NULL;
	if (m->n_listeners >= LISTEN_MAX)
		return ERRMSG_FAIL(ret_error, "at most %d peer listeners", LISTEN_MAX);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return ERRMSG_FAIL(ret_error, "fd %d: %s", fd, strerror(errno));
	r = sd_event_add_io(m->event, &m->listeners[m->n_listeners], fd, EPOLLIN, on_accept, m);
	if (r < 0)
		return r;
	(void)sd_event_source_set_io_fd_own(m->listeners[m->n_listeners], 1);
	m->n_listeners++;
	return 0;
}

static struct accepted *accepted_by_name(struct peer_manager *m, const char *name)
{
	for (struct accepted *a = m->accepted; a; a = a->next)
		if (a->name && strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

static struct peer *peer_new_named(struct peer_manager *m, const char *name)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->name = strdup(name);
	if (!p->name) {
		free(p);
		return NULL;
	}
	p->m = m;
	p->refs = 1;
	p->named = true;
	p->next = m->peers;
	if (m->peers)
		m->peers->prev = p;
	m->peers = p;
	return p;
}

struct peer *peer_manager_get_named(struct peer_manager *m, const char *name)
{
	struct accepted *a;
	struct peer *p;

	for (p = m->peers; p; p = p->next)
		if (p->named && strcmp(p->name, name) == 0)
			return peer_ref(p);
	a = accepted_by_name(m, name);
	if (!a)
		return NULL;
	p = peer_new_named(m, name);
	if (!p)
		return NULL;
	p->link = a->link;
	p->up_since = a->up_since;
	return p;
}

struct peer *peer_manager_wait_named(struct peer_manager *m, const char *name)
{
	struct peer *p = peer_manager_get_named(m, name);

	if (p || !peer_name_valid(name))
		return p;
	return peer_new_named(m, name); /* linkless until a daemon of that name says hello */
}

bool peer_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 63 ||
	    !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
	       n;
}

int peer_manager_name_link(struct peer_manager *m, struct h2_link *l, const char *name,
			   const char *instance, char **ret_error)
{
	struct accepted *a = accepted_find(m, l), *old;
	char *n, *i;

	*ret_error = NULL;
	if (!a)
		return ERRMSG_FAIL(ret_error, "only a link dialed to this daemon can be named");
	if (!peer_name_valid(name))
		return ERRMSG_FAIL(ret_error,
				   "'%.64s' is not a valid name (a letter, then letters, digits, "
				   "'-', '_', '.'; at most 63)",
				   name);
	old = accepted_by_name(m, name);
	if (old && old != a) {
		if (!instance || !old->instance || strcmp(instance, old->instance) != 0)
			return ERRMSG_FAIL(ret_error,
					   "the name '%s' is taken by the daemon linked from %s",
					   name, h2_link_peer(old->link));
		/* the same daemon again: its old link is dead and not noticed yet */
		free(old->name);
		old->name = NULL;
	}
	n = strdup(name);
	i = instance ? strdup(instance) : NULL;
	if (!n || (instance && !i)) {
		free(n);
		free(i);
		return -ENOMEM;
	}
	free(a->name);
	free(a->instance);
	a->name = n;
	a->instance = i;
	for (struct peer *p = m->peers; p; p = p->next) {
		if (!p->named || strcmp(p->name, name) != 0)
			continue;
		p->link = l;
		p->up_since = a->up_since;
		if (p->holds > 0 && m->ops->peer_up)
			m->ops->peer_up(m, p, m->userdata);
	}
	return 0;
}

bool peer_manager_link_claimed(struct peer_manager *m, const struct h2_link *l)
{
	struct accepted *a = accepted_find(m, l);

	return a && a->name;
}

const char *peer_manager_link_name(struct peer_manager *m, const struct h2_link *l)
{
	for (struct accepted *a = m->accepted; a; a = a->next)
		if (a->link == l)
			return a->name;
	for (struct peer *p = m->peers; p; p = p->next)
		if (!p->named && p->link == l)
			return p->name;
	return NULL;
}

void peer_manager_links(struct peer_manager *m, peer_link_fn fn, void *userdata)
{
	uint64_t now = now_usec();

	for (struct peer *p = m->peers; p; p = p->next) {
		struct peer_link_info i = { .name = p->name, .direction = "out" };

		if (p->named)
			continue; /* shown as the accepted link it rides on */
		if (!p->link && p->holds == 0)
			continue; /* a peer nobody uses now */
		i.address = p->name;
		i.link = p->link;
		i.state = p->link ? (h2_link_is_up(p->link) ? "up" : "connecting") : "backoff";
		i.dialed = true;
		i.reconnects = p->ups > 1 ? p->ups - 1 : 0;
		i.total = p->gone;
		if (p->link) {
			struct h2_link_stats x;

			h2_link_get_stats(p->link, &x);
			i.total.streams_total += x.streams_total;
			i.total.bytes_in += x.bytes_in;
			i.total.bytes_out += x.bytes_out;
			if (x.rtt_usec)
				i.total.rtt_usec = x.rtt_usec;
		}
		if (p->link && h2_link_is_up(p->link)) {
			i.age_usec = now - p->up_since;
			i.streams = h2_link_streams(p->link);
			h2_link_bytes(p->link, &i.bytes_in, &i.bytes_out);
		}
		fn(&i, userdata);
	}
	for (struct accepted *a = m->accepted; a; a = a->next) {
		struct peer_link_info i = { .name = a->name ?: h2_link_peer(a->link),
					    .address = h2_link_peer(a->link),
					    .direction = "in",
					    .link = a->link };

		i.state = h2_link_is_up(a->link) ? "up" : "connecting";
		h2_link_get_stats(a->link, &i.total);
		if (h2_link_is_up(a->link)) {
			i.age_usec = now - a->up_since;
			i.streams = h2_link_streams(a->link);
			h2_link_bytes(a->link, &i.bytes_in, &i.bytes_out);
		}
		fn(&i, userdata);
	}
}

int peer_manager_set_key_dir(struct peer_manager *m, const struct peer_key *key, const char *dir)
{
	struct peer_keyring *kr;
	int r;

	r = peer_keyring_new(key, dir, &kr);
	if (r < 0)
		return r;
	tls_psk_ctx_set_keyring(m->server_ctx, kr);
	peer_keyring_free(m->keyring);
	m->keyring = kr;
	return 0;
}

const char *peer_manager_link_key(struct peer_manager *m, const struct h2_link *l,
				  const struct peer_key **ret_key)
{
	const char *id;

	if (!accepted_find(m, l))
		return NULL; /* a link we dialed: our own key */
	id = tls_psk_identity(h2_link_ssl(l));
	if (ret_key)
		*ret_key = id && m->keyring ? peer_keyring_find(m->keyring, id, strlen(id)) : NULL;
	return id ?: PEER_KEY_DEFAULT_ID;
}

unsigned peer_manager_close_revoked(struct peer_manager *m)
{
	unsigned n = 0;

	for (struct accepted *a = m->accepted, *next; a; a = next) {
		const struct peer_key *key = NULL;
		const char *id;
		char *why;

		next = a->next;
		if (!h2_link_is_up(a->link))
			continue;
		id = peer_manager_link_key(m, a->link, &key);
		if (!id || key)
			continue;
		if (asprintf(&why, "its key '%s' was revoked", id) < 0)
			why = NULL;
		on_accepted_down(a->link, -EKEYREVOKED, why, m); /* frees a and its link */
		n++;
	}
	return n;
}

size_t peer_manager_key_count(struct peer_manager *m)
{
	return m->keyring ? peer_keyring_count(m->keyring) : 1;
}

struct h2_link *peer_manager_named_link(struct peer_manager *m, const char *name)
{
	struct accepted *a = accepted_by_name(m, name);

	return a ? a->link : NULL;
}
