/* SPDX-License-Identifier: MIT */
/*
 * link-manager.c - one link per peer, dialed on demand, kept up while held (link-manager.h)
 *
 * Peers live in a list on the manager, each with at most one dialed link. Accepted links live
 * in their own list; they carry what the other side opens (and what we open back on them, which
 * nobody does yet: the NAT case). A link's down() frees it at once; a held peer then arms its
 * reconnect timer with the backoff. Requests are small consumers of one "/ctl" stream each, woken
 * through a defer source so that nothing runs inside the link's own callbacks.
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
#include "link-manager.h"
#include "peer-key.h"
#include "sockaddr.h"
#include "stream.h"
#include "tls-psk.h"
#include "url.h"

#define BACKOFF_MIN_USEC (200ULL * 1000)
#define BACKOFF_MAX_USEC (10ULL * 1000000)
#define LISTEN_MAX	 8

struct accepted {
	struct h2_link *link;
	struct accepted *prev, *next;
	char *name;	   /* the name its daemon claimed (hello), NULL before */
	char *instance;	   /* and that daemon's run */
	uint64_t up_since; /* 0 while the handshake runs */
};

struct peer_manager {
	sd_event *event;
	SSL_CTX *client_ctx, *server_ctx;
	const struct peer_manager_ops *ops;
	void *userdata;
	struct peer *peers;
	struct accepted *accepted;
	sd_event_source *listeners[LISTEN_MAX];
	unsigned n_listeners;
	struct peer_keyring *keyring; /* the keys accepted links may use (scoped keys) */
};

struct peer {
	struct peer_manager *m; /* NULL once the manager is gone */
	struct peer *prev, *next;
	unsigned refs;
	char *name;
	union sockaddr_union sa;
	socklen_t salen;
	struct h2_link *link; /* a named peer's is borrowed from its struct accepted */
	bool named;	      /* reached through a link it dialed to us, by name: never dialed */
	uint64_t up_since;
	unsigned holds;
	uint64_t backoff, next_dial;
	sd_event_source *reconnect;
	uint64_t ups;		   /* links that came up: reconnects = ups - 1 */
	struct h2_link_stats gone; /* what its ended links counted (rtt: the last one's) */
};

struct peer_request {
	struct peer *p;
	struct stream *st;
	sd_event_source *wake_src, *timeout_src;
	peer_reply_fn cb;
	void (*progress)(void *userdata, const char *line, size_t len);
	void *userdata;
	char *in;
	size_t in_len;
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

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

static int on_accepted_stream(struct h2_link *l, const char *path, struct stream *st,
			      void *userdata);
static void on_accepted_up(struct h2_link *l, void *userdata);
static void on_accepted_down(struct h2_link *l, int error, char *reason, void *userdata);

static const struct h2_link_ops accepted_ops = {
	.up = on_accepted_up,
	.stream = on_accepted_stream,
	.down = on_accepted_down,
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
	r = sd_event_add_io(m->event, &m->listeners[m->n_listeners], fd, EPOLLIN, on_accept, m);
	if (r < 0)
		return r;
	(void)sd_event_source_set_io_fd_own(m->listeners[m->n_listeners], 1);
	m->n_listeners++;
	TAKE_FD(fd);
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

size_t peer_manager_key_count(struct peer_manager *m)
{
	return m->keyring ? peer_keyring_count(m->keyring) : 1;
}

struct h2_link *peer_manager_named_link(struct peer_manager *m, const char *name)
{
	struct accepted *a = accepted_by_name(m, name);

	return a ? a->link : NULL;
}

int peer_manager_get(struct peer_manager *m, const char *host, uint16_t port, struct peer **ret,
		     char **ret_error)
{
	_cleanup_free_ char *name = NULL;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
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
		(void)errmsg_set(ret_error, "cannot resolve peer '%s': %s%s", host,
				 r ? gai_strerror(r) : "no address",
				 by_name ? " (and no daemon of that name has a link here)" : "");
		return -EADDRNOTAVAIL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		freeaddrinfo(ai);
		return -ENOMEM;
	}
	memcpy(&p->sa, ai->ai_addr, ai->ai_addrlen);
	p->salen = ai->ai_addrlen;
	freeaddrinfo(ai);
	p->m = m;
	p->refs = 1;
	p->name = TAKE_PTR(name);
	p->next = m->peers;
	if (m->peers)
		m->peers->prev = p;
	m->peers = p;
	*ret = p;
	return 0;
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

static int peer_open_internal(struct peer *p, const char *path, bool now, struct stream **ret)
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
	return peer_open_internal(p, path, false, ret);
}

/* ---- requests ----------------------------------------------------------------------------- */

static void request_finish(struct peer_request *rq, int r, const char *line, size_t len)
{
	peer_reply_fn cb = rq->cb;
	void *ud = rq->userdata;

	rq->cb = NULL;
	peer_request_cancel(rq);
	if (cb)
		cb(ud, r, line, len);
}

static int on_request_run(sd_event_source *src, void *userdata)
{
	struct peer_request *rq = userdata;
	char buf[16384];

	for (;;) {
		ssize_t n = rq->st->ops->read(rq->st, buf, sizeof(buf));
		char *nl;

		if (n == -EAGAIN)
			return 0;
		if (n <= 0) {
			request_finish(rq, n == 0 ? -ECONNRESET : (int)n, NULL, 0);
			return 0;
		}
		if (rq->in_len + (size_t)n > 256u * 1024u) {
			request_finish(rq, -E2BIG, NULL, 0);
			return 0;
		}
		{
			char *b = realloc(rq->in, rq->in_len + (size_t)n + 1);

			if (!b) {
				request_finish(rq, -ENOMEM, NULL, 0);
				return 0;
			}
			rq->in = b;
		}
		memcpy(rq->in + rq->in_len, buf, (size_t)n);
		rq->in_len += (size_t)n;
		rq->in[rq->in_len] = '\0';
		while ((nl = memchr(rq->in, '\n', rq->in_len))) {
			size_t ll = (size_t)(nl - rq->in) + 1;

			if (strncmp(rq->in, "{\"progress\"", 11) != 0) {
				_cleanup_free_ char *line = strndup(rq->in, ll);

				if (!line)
					request_finish(rq, -ENOMEM, NULL, 0);
				else
					request_finish(rq, 0, line, ll);
				return 0;
			}
			if (rq->progress)
				rq->progress(rq->userdata, rq->in, ll);
			memmove(rq->in, rq->in + ll, rq->in_len - ll + 1);
			rq->in_len -= ll;
		}
	}
}

static void on_request_wake(struct stream *st, void *userdata)
{
	struct peer_request *rq = userdata;

	(void)sd_event_source_set_enabled(rq->wake_src, SD_EVENT_ONESHOT);
}

static int on_request_timeout(sd_event_source *src, uint64_t usec, void *userdata)
{
	request_finish(userdata, -ETIMEDOUT, NULL, 0);
	return 0;
}

int peer_request(struct peer *p, const char *line, peer_reply_fn cb, void *userdata,
		 struct peer_request **ret)
{
	struct peer_request *rq;
	size_t len = strlen(line);
	ssize_t n;
	int r;

	if (!p->m)
		return -ENOTCONN;
	rq = calloc(1, sizeof(*rq));
	if (!rq)
		return -ENOMEM;
	rq->p = peer_ref(p);
	rq->cb = cb;
	rq->userdata = userdata;
	/* a request is the control path: it dials even during a backoff (one attempt per request) */
	r = peer_open_internal(p, "/ctl", true, &rq->st);
	if (r < 0)
		goto fail;
	rq->st->wake = on_request_wake;
	rq->st->wake_userdata = rq;
	/* a request line is small; the stream buffers it whole until the link is up */
	n = rq->st->ops->write(rq->st, line, len);
	if (n != (ssize_t)len) {
		r = n < 0 ? (int)n : -E2BIG;
		goto fail;
	}
	r = sd_event_add_defer(p->m->event, &rq->wake_src, on_request_run, rq);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_enabled(rq->wake_src, SD_EVENT_ONESHOT);
	r = sd_event_add_time_relative(p->m->event, &rq->timeout_src, CLOCK_MONOTONIC,
				       PEER_REQUEST_TIMEOUT_USEC, 1000000, on_request_timeout, rq);
	if (r < 0)
		goto fail;
	if (ret)
		*ret = rq;
	return 0;
fail:
	rq->cb = NULL;
	peer_request_cancel(rq);
	return r;
}

void peer_request_set_progress(struct peer_request *rq,
			       void (*fn)(void *userdata, const char *line, size_t len))
{
	rq->progress = fn;
}

struct peer_request *peer_request_cancel(struct peer_request *rq)
{
	if (!rq)
		return NULL;
	stream_free(rq->st);
	sd_event_source_disable_unref(rq->wake_src);
	sd_event_source_disable_unref(rq->timeout_src);
	peer_unref(rq->p);
	free(rq->in);
	free(rq);
	return NULL;
}
