/* SPDX-License-Identifier: MIT */
/*
 * udp-relay.c - UDP sessions keyed by client address
 *
 * Theory of operation. The listening socket has one io source. Each datagram is received whole
 * (a 64 KiB buffer holds any UDP payload; MSG_TRUNC is checked anyway) together with its source
 * address, which is looked up in a chained hash table (keyed with a random seed, doubled when it
 * fills, so thousands of sessions stay O(1)). An unknown address opens a session, which starts
 * pending: datagrams are queued (at most UDP_QUEUE_MAX, the rest dropped) until the owner attaches
 * a connected backend socket, which flushes the queue. Each attached session has an io source on
 * its backend socket; replies go back with sendto() from the listening socket, so the client sees
 * them come from the address it sent to. Datagrams that cannot be sent now (EAGAIN, ENOBUFS) are
 * dropped, as a router would: UDP has no back-pressure to propagate.
 *
 * Idle timeout: each session has one sd-event time source, armed for last activity + idle time.
 * Traffic only updates a timestamp; when the timer fires early it is re-armed for the new
 * deadline, so a busy session costs no timer work per datagram. The accuracy granted to sd-event
 * (a tenth of the idle time, at most one second) lets it coalesce the wakeups of many sessions.
 *
 * Fairness: each wakeup handles at most UDP_BATCH datagrams per socket.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "sockaddr.h"
#include "udp-relay.h"

#define UDP_DGRAM_MAX	  65536 /* more than any UDP payload (65507 over IPv4, 65527 over IPv6) */
#define UDP_QUEUE_MAX	  16	/* datagrams held while a session is pending */
#define UDP_BATCH	  64	/* datagrams per socket per wakeup */
#define UDP_BUCKETS_START 64

struct udp_dgram {
	struct udp_dgram *next;
	size_t len;
	char data[];
};

struct udp_session {
	struct udp_relay *u;
	struct udp_session *hnext; /* hash chain */
	sd_event_source *io;	   /* backend socket, once attached */
	sd_event_source *timer;	   /* idle timeout */
	int fd;
	bool pending;
	unsigned n_queued;
	struct udp_dgram *qhead, *qtail;
	uint64_t last; /* last traffic, CLOCK_MONOTONIC usec */
	uint64_t up, down;
	void *userdata;
	socklen_t clen;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} client;
};

struct udp_relay {
	sd_event *e;
	sd_event_source *io;
	int fd;
	uint64_t idle_usec;
	unsigned max_sessions;
	unsigned n_sessions;
	const struct udp_relay_ops *ops;
	void *userdata;
	struct udp_session **buckets;
	size_t n_buckets; /* a power of two */
	size_t seed;
};

static size_t session_bucket(const struct udp_relay *u, const struct sockaddr *sa, socklen_t len)
{
	return sockaddr_hash(sa, len, u->seed) & (u->n_buckets - 1);
}

static struct udp_session *session_find(struct udp_relay *u, const struct sockaddr *sa,
					socklen_t len)
{
	struct udp_session *s;

	for (s = u->buckets[session_bucket(u, sa, len)]; s; s = s->hnext)
		if (sockaddr_equal(&s->client.sa, s->clen, sa, len))
			return s;
	return NULL;
}

static void session_unlink(struct udp_session *s)
{
	struct udp_relay *u = s->u;
	struct udp_session **p;

	for (p = &u->buckets[session_bucket(u, &s->client.sa, s->clen)]; *p; p = &(*p)->hnext)
		if (*p == s) {
			*p = s->hnext;
			u->n_sessions--;
			return;
		}
}

/* Doubles the table when it is full; on ENOMEM the chains just get longer. */
static void sessions_grow(struct udp_relay *u)
{
	struct udp_session **nb;
	size_t n = u->n_buckets * 2;

	if (u->n_sessions < u->n_buckets)
		return;
	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;
	for (size_t i = 0; i < u->n_buckets; i++)
		while (u->buckets[i]) {
			struct udp_session *s = u->buckets[i];
			size_t b = sockaddr_hash(&s->client.sa, s->clen, u->seed) & (n - 1);

			u->buckets[i] = s->hnext;
			s->hnext = nb[b];
			nb[b] = s;
		}
	free(u->buckets);
	u->buckets = nb;
	u->n_buckets = n;
}

static void session_free(struct udp_session *s)
{
	s->io = sd_event_source_disable_unref(s->io);
	s->timer = sd_event_source_disable_unref(s->timer);
	s->fd = safe_close(s->fd);
	while (s->qhead) {
		struct udp_dgram *d = s->qhead;

		s->qhead = d->next;
		free(d);
	}
	free(s);
}

static void session_end(struct udp_session *s, int error, const char *reason)
{
	struct udp_relay *u = s->u;

	session_unlink(s);
	(void)sd_event_source_set_enabled(s->io, SD_EVENT_OFF);
	(void)sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
	if (u->ops->session_done)
		u->ops->session_done(u, s, error, reason, u->userdata);
	session_free(s);
}

static uint64_t relay_now(struct udp_relay *u)
{
	uint64_t t = 0;

	(void)sd_event_now(u->e, CLOCK_MONOTONIC, &t);
	return t;
}

static int on_idle_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct udp_session *s = userdata;
	uint64_t deadline = s->last + s->u->idle_usec;

	if (relay_now(s->u) < deadline) {
		/* there was traffic since the timer was armed: wait for the new deadline */
		if (sd_event_source_set_time(src, deadline) >= 0 &&
		    sd_event_source_set_enabled(src, SD_EVENT_ONESHOT) >= 0)
			return 0;
	}
	session_end(s, 0, "idle timeout");
	return 0;
}

/* Sends one datagram to the backend; failures drop it (no back-pressure for UDP). */
static void session_send(struct udp_session *s, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		s->up += (uint64_t)n;
}

static int on_backend_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct udp_session *s = userdata;
	struct udp_relay *u = s->u;
	char buf[UDP_DGRAM_MAX];

	for (unsigned i = 0; i < UDP_BATCH; i++) {
		ssize_t n, w;

		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue; /* ICMP port unreachable from the backend: keep going */
			if (errno == EAGAIN)
				break;
			session_end(s, -errno, "backend error");
			return 0;
		}
		if ((size_t)n > sizeof(buf))
			continue; /* cannot happen for UDP; never forward a truncated datagram */
		s->last = relay_now(u);
		do
			w = sendto(u->fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
				   &s->client.sa, s->clen);
		while (w < 0 && errno == EINTR);
		if (w >= 0)
			s->down += (uint64_t)w;
	}
	return 0;
}

static void session_queue(struct udp_session *s, const void *buf, size_t len)
{
	struct udp_dgram *d;

	if (s->n_queued >= UDP_QUEUE_MAX)
		return;
	d = malloc(sizeof(*d) + len);
	if (!d)
		return;
	d->next = NULL;
	d->len = len;
	memcpy(d->data, buf, len);
	if (s->qtail)
		s->qtail->next = d;
	else
		s->qhead = d;
	s->qtail = d;
	s->n_queued++;
}

static struct udp_session *session_new(struct udp_relay *u, const struct sockaddr *sa,
				       socklen_t len)
{
	struct udp_session *s;
	uint64_t accuracy;
	size_t b;

	if (len > sizeof(s->client))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->u = u;
	s->fd = -EBADF;
	s->pending = true;
	s->last = relay_now(u);
	memcpy(&s->client, sa, len);
	s->clen = len;
	accuracy = u->idle_usec / 10;
	accuracy = accuracy > 1000000 ? 1000000 : accuracy ? accuracy : 1;
	if (sd_event_add_time(u->e, &s->timer, CLOCK_MONOTONIC, s->last + u->idle_usec, accuracy,
			      on_idle_timer, s) < 0) {
		free(s);
		return NULL;
	}
	sessions_grow(u);
	b = session_bucket(u, sa, len);
	s->hnext = u->buckets[b];
	u->buckets[b] = s;
	u->n_sessions++;
	return s;
}

static int on_listen_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct udp_relay *u = userdata;
	char buf[UDP_DGRAM_MAX];

	for (unsigned i = 0; i < UDP_BATCH; i++) {
		union sockaddr_union from;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		struct udp_session *s;
		ssize_t n;

		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break; /* EAGAIN; an unconnected socket reports nothing else worth acting on */
		}
		if ((mh.msg_flags & MSG_TRUNC) || (size_t)n > sizeof(buf))
			continue;
		s = session_find(u, &from.sa, mh.msg_namelen);
		if (!s) {
			if (u->n_sessions >= u->max_sessions ||
			    (u->ops->session_admit && !u->ops->session_admit(u, u->userdata)))
				continue; /* over the limit: drop */
			s = session_new(u, &from.sa, mh.msg_namelen);
			if (!s)
				continue;
			session_queue(s, buf, (size_t)n);
			/* may attach or fail (and free s) right away: don't touch s afterwards */
			u->ops->session_open(u, s, u->userdata);
			continue;
		}
		s->last = relay_now(u);
		if (s->pending)
			session_queue(s, buf, (size_t)n);
		else
			session_send(s, buf, (size_t)n);
	}
	return 0;
}

int udp_relay_new(sd_event *e, int listen_fd, uint64_t idle_usec, unsigned max_sessions,
		  const struct udp_relay_ops *ops, void *userdata, struct udp_relay **ret)
{
	struct udp_relay *u;
	int r;

	if (!e || listen_fd < 0 || !ops || !ops->session_open || !ret)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->n_buckets = UDP_BUCKETS_START;
	u->buckets = calloc(u->n_buckets, sizeof(*u->buckets));
	if (!u->buckets) {
		free(u);
		return -ENOMEM;
	}
	if (getrandom(&u->seed, sizeof(u->seed), GRND_NONBLOCK) != sizeof(u->seed))
		u->seed = (size_t)(uintptr_t)u ^ (size_t)getpid();
	u->e = e;
	u->fd = -EBADF;
	u->idle_usec = idle_usec;
	u->max_sessions = max_sessions;
	u->ops = ops;
	u->userdata = userdata;
	r = sd_event_add_io(e, &u->io, listen_fd, EPOLLIN, on_listen_io, u);
	if (r < 0) {
		free(u->buckets);
		free(u);
		return r;
	}
	u->fd = listen_fd;
	*ret = u;
	return 0;
}

struct udp_relay *udp_relay_free(struct udp_relay *u)
{
	if (!u)
		return NULL;
	u->io = sd_event_source_disable_unref(u->io);
	for (size_t i = 0; i < u->n_buckets; i++)
		while (u->buckets[i])
			session_end(u->buckets[i], 0, "relay closed");
	free(u->buckets);
	u->fd = safe_close(u->fd);
	free(u);
	return NULL;
}

int udp_session_attach(struct udp_session *s, int fd)
{
	int r;

	if (!s->pending) {
		(void)safe_close(fd);
		return -EBUSY; /* programmer error; the session keeps its socket */
	}
	s->fd = fd;
	r = sd_event_add_io(s->u->e, &s->io, fd, EPOLLIN, on_backend_io, s);
	if (r < 0) {
		session_end(s, r, "event loop error");
		return r;
	}
	s->pending = false;
	while (s->qhead) {
		struct udp_dgram *d = s->qhead;

		s->qhead = d->next;
		session_send(s, d->data, d->len);
		free(d);
	}
	s->qtail = NULL;
	s->n_queued = 0;
	return 0;
}

void udp_session_fail(struct udp_session *s, int error, const char *reason)
{
	session_end(s, error, reason);
}

const struct sockaddr *udp_session_client(const struct udp_session *s, socklen_t *ret_len)
{
	if (ret_len)
		*ret_len = s->clen;
	return &s->client.sa;
}

void udp_session_bytes(const struct udp_session *s, uint64_t *ret_up, uint64_t *ret_down)
{
	if (ret_up)
		*ret_up = s->up;
	if (ret_down)
		*ret_down = s->down;
}

void udp_session_set_userdata(struct udp_session *s, void *p)
{
	s->userdata = p;
}

void *udp_session_get_userdata(const struct udp_session *s)
{
	return s->userdata;
}

unsigned udp_relay_sessions(const struct udp_relay *u)
{
	return u->n_sessions;
}
