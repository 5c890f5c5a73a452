/* SPDX-License-Identifier: MIT */
/*
 * conn.c - the TCP connections of a segment, and the one log line each ends with (UDP sessions:
 * conn-udp.c)
 *
 * A segment that routes by server name (SEGMENT_ROUTE_SNI) first peeks: the client's socket
 * waits on the inner epoll set (edge-triggered, for EPOLLIN) until the bytes it sent hold a whole
 * ClientHello, within TLS_SNI_PEEK_MAX bytes and s->peek_usec. recv(MSG_PEEK) leaves every byte
 * in the socket, so the relay that follows forwards them untouched (by splice, as any other
 * connection). A ClientHello already there at accept costs one recv() and nothing else. Every
 * other segment goes straight on, as before: no peek, no extra syscall.
 *
 * A segment that balances (SEGMENT_ROUTE_BALANCE, `balance MODE` over several tails) picks the
 * tail when it opens one (segment_balance_pick()). An open that fails (refused, unreachable,
 * timed out, the tail's container not running) marks that tail down for SEGMENT_TAIL_RETRY_USEC
 * and the same connection goes on to the next tail at once; it fails only when every tail failed
 * for it. Which tails it tried is a bit mask in the connection (c->tried), so struct conn does not
 * grow (it fits a hole), and a segment with one tail never reaches any of this.
 *
 * Admission (conn_admit()): descriptors are shared fairly between segments, so one segment
 * flooded with idle connections cannot starve the others or the daemon itself. Each connection
 * is counted as two descriptors (a UDP session holds one; counting two keeps the arithmetic one
 * rule). From RLIMIT_NOFILE the daemon first keeps CONN_FD_RESERVE for itself (the control
 * socket's clients, the pipe pool, the Docker client; a quarter of the limit when that is
 * smaller) and one per segment (its listener); half of the rest is the connection budget B. With
 * N segments, each may always hold B / (N + 1) connections (one more than N, so a segment made
 * later finds room too); above that share it may borrow while the whole daemon holds fewer than
 * 3/4 B, so a quarter of the budget always stays for the segments that are under their share.
 * --max-conns caps every segment on top. A refused connection is closed at once (a datagram
 * from a new client is dropped), logged at most once per 10 s per segment with a count.
 *
 * Idle timeout (--idle-timeout): a relaying connection gets one timer, checked every half of the
 * timeout; two checks in a row that see no new byte either way (relay_bytes()) end it, so a
 * quiet connection ends between 1 and 1.5 timeouts after its last byte. The data path itself
 * takes no timestamps, and without the option no timer exists.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "conn-internal.h"
#include "conn.h"
#include "dgram-stream.h"
#include "engine.h"
#include "ioloop.h"
#include "list.h"
#include "log.h"
#include "proxy-v2.h"
#include "relay.h"
#include "segment.h"
#include "sockaddr.h"
#include "strmap.h"
#include "tail.h"
#include "time-util.h"
#include "tls-sni.h"

enum conn_state {
	CONN_ACCEPTED, /* only inside conn_accept() */
	CONN_PEEKING,  /* reading the ClientHello to pick the tail (routing segments only) */
	CONN_WAITING,
	CONN_CONNECTING,
	CONN_RELAYING,
};

/* A client's address: an IP one, kept whole (a unix client is unnamed: its family only). Not
 * union sockaddr_union, whose 128 bytes every idle connection would carry. */
union conn_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* Routing by server name: the peek's state, allocated only while a connection is peeking */
struct conn_peek {
	struct conn *c;
	struct ioloop_watch w; /* the client's fd on the inner epoll set */
	bool watched;
	sd_event_source *timer;
};

/* Small on purpose: one per open connection (bench/ measures memory per idle connection). */
struct conn {
	struct segment *s;
	LIST_FIELDS(struct conn, conns);
	uint64_t id;
	enum conn_state state;
	struct relay_end client;
	union conn_addr client_sa;
	socklen_t client_len;
	uint64_t start_usec;
	const struct tail_ops *tail_ops; /* the ops that opened @tail_handle */
	void *tail_handle;		 /* an open in progress */
	struct relay *relay;

	/* routing (conn_peek()) or balancing: the tail picked, NULL for s->tail */
	struct segment_tail *tail;
	char *sni;		/* the server name the client sent, for the log */
	struct conn_peek *peek; /* while peeking */
	sd_event_source *idle;	/* --idle-timeout: the check timer, while relaying */
	uint64_t idle_bytes;	/* bytes both ways at the last check */
	unsigned idle_quiet;	/* checks in a row that saw no new byte */
	uint32_t tried;		/* balancing: the tails tried (bit k: tail k) */
};

/* descriptors never given to connections: 256 control clients, the pipe pool (2 x 64), the
 * Docker client, log and event loop, with room to spare */
#define CONN_FD_RESERVE	 512U
#define REFUSED_LOG_USEC (10 * 1000 * 1000ULL)
#define IDLE_CHECKS	 2 /* quiet checks, each half the timeout, that end a connection */

static uint64_t conn_budget(const struct daemon *d, uint64_t nseg)
{
	uint64_t reserve = d->fd_limit / 4 < CONN_FD_RESERVE ? d->fd_limit / 4 : CONN_FD_RESERVE;

	if (d->fd_limit <= reserve + nseg)
		return 0;
	return (d->fd_limit - reserve - nseg) / 2;
}

bool conn_admit(const struct segment *s)
{
	const struct daemon *d = s->d;
	uint64_t nseg, budget;

	if (d->max_conns > 0 && s->conns_active >= d->max_conns)
		return false;
	if (d->fd_limit == 0) /* not known: no shares */
		return true;
	nseg = d->by_id ? strmap_size(d->by_id) : 1;
	budget = conn_budget(d, nseg);
	if (d->conns_active >= budget)
		return false;
	if (s->conns_active < budget / (nseg + 1))
		return true;
	return d->conns_active < budget - budget / 4;
}

void conn_refused(struct segment *s, const char *client)
{
	uint64_t now = now_usec();

	s->conns_refused++;
	if (s->refused_log_usec != 0 && now - s->refused_log_usec < REFUSED_LOG_USEC) {
		s->refused_unlogged++;
		return;
	}
	if (s->refused_unlogged > 0)
		log_notice("segment '%s': %s refused: its share of descriptors or --max-conns is "
			   "used up (%" PRIu64 " connections; %" PRIu64 " more refused since the "
			   "last line)",
			   s->id, client, s->conns_active, s->refused_unlogged);
	else
		log_notice("segment '%s': %s refused: its share of descriptors or --max-conns is "
			   "used up (%" PRIu64 " connections)",
			   s->id, client, s->conns_active);
	s->refused_log_usec = now;
	s->refused_unlogged = 0;
}

static const char *conn_state_name(enum conn_state st)
{
	static const char *const names[] = {
		[CONN_ACCEPTED] = "accepted", [CONN_PEEKING] = "peeking",
		[CONN_WAITING] = "waiting",   [CONN_CONNECTING] = "connecting",
		[CONN_RELAYING] = "relaying",
	};
	return st < ELEMENTSOF(names) ? names[st] : "?";
}

static void conn_set_state(struct conn *c, enum conn_state st)
{
	log_debug("segment '%s' conn %" PRIu64 ": %s -> %s", c->s->id, c->id,
		  conn_state_name(c->state), conn_state_name(st));
	c->state = st;
}

/* The one log line every connection ends with. */
/* The one log line every connection ends with. @t: the tail it went to (NULL: the segment's);
 * @sni: the server name it asked for (NULL: none, or no routing). */
void conn_log_end(const struct segment *s, const struct segment_tail *t, const char *sni,
		  const char *client, uint64_t start, uint64_t in, uint64_t out, int error,
		  const char *reason)
{
	uint64_t dur = now_usec() - start;
	_cleanup_free_ char *tail = t ? endpoint_url(&t->ep, true) : segment_tail_url(s);

	log_full_errno(error < 0 && error != -ECONNRESET ? LOG_NOTICE : LOG_INFO, 0,
		       "segment '%s': %s%s%s%s -> %s: closed after %" PRIu64 ".%03" PRIu64
		       " s, %" PRIu64 " bytes in, %" PRIu64 " bytes out: %s%s%s",
		       s->id, client, sni ? " (sni '" : "", sni ?: "", sni ? "')" : "",
		       t || s->route != SEGMENT_ROUTE_SNI ? tail ?: "?" : "(no tail)",
		       dur / 1000000, (dur / 1000) % 1000, in, out, reason, error < 0 ? ": " : "",
		       error < 0 ? strerror(-error) : "");
}

/* The peek's watch and timer go, if any (the fd stays open: the relay takes it, or it closes). */
static void conn_peek_end(struct conn *c)
{
	if (!c->peek)
		return;
	c->peek->timer = sd_event_source_disable_unref(c->peek->timer);
	ioloop_cancel(&c->peek->w);
	if (c->peek->watched && c->client.fd >= 0)
		ioloop_forget(c->s->d->loop, c->client.fd); /* close() drops it from epoll */
	free(c->peek);
	c->peek = NULL;
}

static void conn_free(struct conn *c, int error, const char *reason)
{
	struct segment *s = c->s;
	uint64_t in = 0, out = 0;
	char client[SOCKADDR_STR_MAX];

	if (c->relay)
		relay_bytes(c->relay, &in, &out);
	sockaddr_format(&c->client_sa.sa, c->client_len, client);
	conn_log_end(s, c->tail, c->sni, client, c->start_usec, in, out, error, reason);
	log_debug("segment '%s' conn %" PRIu64 ": %s -> closed", s->id, c->id,
		  conn_state_name(c->state));
	s->bytes_in_closed += in;
	s->bytes_out_closed += out;
	s->conns_active--;
	s->d->conns_active--;
	LIST_REMOVE(conns, s->conns, c);
	if (c->tail)
		c->tail->conns_active--;
	c->idle = sd_event_source_disable_unref(c->idle);
	c->relay = relay_free(c->relay);
	if (c->tail_handle)
		c->tail_ops->cancel(c->tail_handle);
	conn_peek_end(c);
	relay_end_close(&c->client);
	free(c->sni);
	free(c);
	engine_fds_released(s->d);
	segment_idle_check(s);
}

static void conn_fail(struct conn *c, enum segment_fail why, int error, const char *reason)
{
	c->s->stats.connect_failures[why]++;
	conn_free(c, error, reason);
}

static void on_relay_done(struct relay *r, int error, const char *reason, void *userdata)
{
	conn_free(userdata, error, reason);
}

/* Write the header on a just-opened tail end: it fits any empty socket buffer or stream. */
static int conn_send_proxy_header(struct conn *c, struct relay_end *end)
{
	union sockaddr_union dst = { 0 };
	socklen_t dstlen = 0;
	uint8_t buf[PROXY_V2_MAX];
	size_t n;
	ssize_t k;

	if (c->client.fd >= 0) {
		dstlen = sizeof(dst);
		if (getsockname(c->client.fd, &dst.sa, &dstlen) < 0)
			dstlen = 0;
	}
	n = proxy_v2_header(&c->client_sa.sa, c->client_len, &dst.sa, dstlen, buf);
	if (end->fd >= 0)
		k = send(end->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	else
		k = end->stream->ops->write(end->stream, buf, n);
	if (k < 0)
		return end->fd >= 0 ? -errno : (int)k;
	return (size_t)k == n ? 0 : -EAGAIN;
}

static int on_idle_check(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct conn *c = userdata;
	uint64_t in = 0, out = 0;

	relay_bytes(c->relay, &in, &out);
	if (in + out != c->idle_bytes) {
		c->idle_bytes = in + out;
		c->idle_quiet = 0;
	} else if (++c->idle_quiet >= IDLE_CHECKS) {
		conn_free(c, 0, "idle timeout");
		return 0;
	}
	(void)sd_event_source_set_time_relative(src, c->s->d->idle_timeout_usec / IDLE_CHECKS);
	(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	return 0;
}

/* Without the timer the connection simply never times out: logged, not fatal. */
static void conn_idle_start(struct conn *c)
{
	uint64_t period = c->s->d->idle_timeout_usec / IDLE_CHECKS, accuracy = period / 10;
	int r;

	if (period == 0)
		return;
	r = sd_event_add_time_relative(c->s->d->event, &c->idle, CLOCK_MONOTONIC, period,
				       accuracy > 1000000 ? 1000000 : accuracy ?: 1, on_idle_check,
				       c);
	if (r < 0)
		log_warning_errno(r, "segment '%s' conn %" PRIu64 ": no idle timer, ignoring",
				  c->s->id, c->id);
}

static void conn_open_balanced(struct conn *c, int r);

static void on_tail_opened(void *userdata, int r, struct relay_end end)
{
	struct conn *c = userdata;

	c->tail_handle = NULL;
	if (c->s->route == SEGMENT_ROUTE_BALANCE && c->tail) {
		struct segment_tail *t = c->tail;

		if (r < 0) { /* this tail is down; the connection goes on to the next one */
			t->conns_active--;
			c->tail = NULL;
			segment_tail_failed(c->s, t, r);
			conn_open_balanced(c, r);
			return;
		}
		segment_tail_opened(c->s, t);
	}
	if (r >= 0 && c->s->proxy_protocol) {
		r = conn_send_proxy_header(c, &end);
		if (r < 0) {
			relay_end_close(&end);
			conn_fail(c, SEGMENT_FAIL_CONNECT, r, "cannot send the PROXY header");
			return;
		}
	}
	if (r < 0) {
		conn_fail(c, r == -ETIMEDOUT ? SEGMENT_FAIL_REFUSED : SEGMENT_FAIL_CONNECT, r,
			  r == -ETIMEDOUT ? "tail refused until the connect timeout"
					  : "cannot connect to the tail");
		return;
	}
	r = relay_new(c->s->d->loop, c->s->d->pipes, c->client, end, on_relay_done, c, &c->relay);
	if (r < 0) {
		relay_end_close(&end);
		conn_free(c, r, "cannot start relaying");
		return;
	}
	c->client = RELAY_END_FD(-EBADF); /* the relay owns it now */
	conn_set_state(c, CONN_RELAYING);
	conn_idle_start(c);
}

/* A UDP segment's connection is a peer stream of datagram frames (a `remote` carrying UDP): its
 * tail is a connected datagram socket seen as the same kind of stream (dgram-stream.h). */
static void conn_open_dgram_tail(struct conn *c, const struct segment_tail *t)
{
	struct segment *s = c->s;
	struct stream *ds;
	int fd, r;

	if (!t->ops->open_dgram) {
		conn_fail(c, SEGMENT_FAIL_CONNECT, -EPROTONOSUPPORT,
			  "the tail carries no datagrams");
		return;
	}
	fd = t->ops->open_dgram(s, t);
	r = fd < 0 ? fd : dgram_stream_new(s->d->loop, fd, s->d->udp_idle_usec, &ds);
	if (r < 0) {
		if (fd >= 0)
			safe_close(fd);
		conn_fail(c, SEGMENT_FAIL_CONNECT, r, "cannot connect to the tail");
		return;
	}
	on_tail_opened(c, 0, RELAY_END_STREAM(ds));
}

/* Starts opening @t. Return: 0 (on_tail_opened() follows), or -errno (it does not) */
static int conn_open_one(struct conn *c, const struct segment_tail *t)
{
	struct segment *s = c->s;
	int r;

	c->tail_ops = t->ops;
	s->d->opening_client = c->client_len > 0 ? &c->client_sa.sa : NULL;
	s->d->opening_client_len = c->client_len;
	r = c->tail_ops->open(s, t, on_tail_opened, c, &c->tail_handle);
	s->d->opening_client = NULL;
	s->d->opening_client_len = 0;
	return r;
}

/* Balancing: open the next tail that is up, or any left when none is; @r: why the last one
 * failed (for the message when none is left). */
static void conn_open_balanced(struct conn *c, int r)
{
	struct segment *s = c->s;
	uint64_t now = now_usec();
	int k;

	while ((k = segment_balance_pick(s, c->tried, now)) >= 0) {
		struct segment_tail *t = segment_tail_nth(s, (size_t)k);

		c->tried |= 1u << k;
		r = t->ep.down ? -EHOSTDOWN : conn_open_one(c, t);
		if (r >= 0) {
			c->tail = t;
			t->conns_active++;
			return;
		}
		segment_tail_failed(s, t, r);
	}
	conn_fail(c, r == -ETIMEDOUT ? SEGMENT_FAIL_REFUSED : SEGMENT_FAIL_CONNECT, r,
		  "every tail failed");
}

static void conn_open_tail(struct conn *c)
{
	struct segment *s = c->s;
	const struct segment_tail *t = c->tail ?: &s->tail;
	int r;

	conn_set_state(c, CONN_CONNECTING);
	if (s->route == SEGMENT_ROUTE_BALANCE) {
		conn_open_balanced(c, -EHOSTUNREACH);
		return;
	}
	if (t->ep.down) {
		conn_fail(c, SEGMENT_FAIL_TAIL_DOWN, -EHOSTDOWN,
			  "the tail's container is not running");
		return;
	}
	if (s->head.proto == URL_PROTO_UDP && c->client.stream) {
		conn_open_dgram_tail(c, t);
		return;
	}
	r = conn_open_one(c, t);
	if (r < 0)
		conn_fail(c, SEGMENT_FAIL_CONNECT, r, "cannot connect to the tail");
}

/* The tail is known: wait for the trigger, or open it. */
static void conn_start(struct conn *c)
{
	struct segment *s = c->s;

	switch (s->state) {
	case SEGMENT_ARMED:
		conn_set_state(c, CONN_WAITING);
		segment_trigger(s); /* may complete at once and connect every waiting conn */
		break;
	case SEGMENT_TRIGGERING:
	case SEGMENT_STOPPING: /* served once the stop ends and the trigger ran again */
		conn_set_state(c, CONN_WAITING);
		break;
	default:
		conn_open_tail(c);
	}
}

/* ---- routing by server name --------------------------------------------------------------- */

/* The peek is over: @name is the server name (NULL: none, or not TLS). */
static void conn_route(struct conn *c, const char *name)
{
	struct segment *s = c->s;
	struct segment_tail *t;

	conn_peek_end(c); /* the relay registers the fd anew (ioloop_add() replaces the watch) */
	if (name) {
		c->sni = strdup(name); /* only for the log: no name there on ENOMEM */
	}
	t = segment_route_pick(s, name);
	if (!t) {
		conn_fail(c, SEGMENT_FAIL_NO_ROUTE, 0,
			  name ? "no tail for this server name and no default tail"
			       : "no server name and no default tail");
		return;
	}
	c->tail = t;
	c->tail->conns_active++;
	conn_start(c);
}

/* Peeks at what the client sent. Return: -EAGAIN to wait for more (@c lives on), or 0 when @c
 * was routed or closed (it may be gone). @hup: the client sent all it will. */
static int conn_peek(struct conn *c, bool hup)
{
	uint8_t buf[TLS_SNI_PEEK_MAX];
	char name[TLS_SNI_NAME_MAX + 1];
	ssize_t n;
	int r;

	n = recv(c->client.fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return -EAGAIN;
		conn_free(c, -errno, "cannot read the ClientHello");
		return 0;
	}
	if (n == 0) {
		conn_fail(c, SEGMENT_FAIL_NO_ROUTE, 0, "closed before sending a ClientHello");
		return 0;
	}
	r = tls_sni_parse(buf, (size_t)n, name);
	if (r == -EAGAIN && !hup)
		return -EAGAIN;
	/* a ClientHello without a name, or not one at all (incomplete at EOF, malformed, too
	 * large, not TLS): the default tail gets it, bytes untouched */
	conn_route(c, r == 1 ? name : NULL);
	return 0;
}

static void on_peek_io(struct ioloop_watch *w, int fd, uint32_t revents)
{
	struct conn *c = ((struct conn_peek *)((char *)w - offsetof(struct conn_peek, w)))->c;

	if (c->state != CONN_PEEKING)
		return; /* routed: the tail is being opened, the relay takes the fd next */
	(void)conn_peek(c, revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
}

static int on_peek_timeout(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct conn *c = userdata;
	char buf[32];

	c->peek->timer = sd_event_source_disable_unref(c->peek->timer);
	log_debug("segment '%s' conn %" PRIu64 ": no ClientHello within %s", c->s->id, c->id,
		  duration_format(c->s->peek_usec, buf, sizeof(buf)));
	conn_fail(c, SEGMENT_FAIL_NO_ROUTE, -ETIMEDOUT, "no ClientHello in time");
	return 0;
}

static void conn_peek_start(struct conn *c)
{
	struct segment *s = c->s;
	int r;

	conn_set_state(c, CONN_PEEKING);
	if (c->client.fd < 0) { /* a user-space stream: nothing to peek at, the default */
		conn_route(c, NULL);
		return;
	}
	if (conn_peek(c, false) != -EAGAIN)
		return; /* the ClientHello was there already */
	c->peek = calloc(1, sizeof(*c->peek));
	if (!c->peek) {
		conn_free(c, -ENOMEM, "cannot wait for the ClientHello");
		return;
	}
	c->peek->c = c;
	c->peek->w.fn = on_peek_io;
	r = ioloop_add(s->d->loop, c->client.fd, EPOLLIN | EPOLLRDHUP | EPOLLET, &c->peek->w);
	if (r >= 0) {
		c->peek->watched = true;
		r = sd_event_add_time_relative(s->d->event, &c->peek->timer, CLOCK_MONOTONIC,
					       s->peek_usec, USEC_PER_SEC / 4, on_peek_timeout, c);
	}
	if (r < 0)
		conn_free(c, r, "cannot wait for the ClientHello");
}

void conn_accept(struct segment *s, struct relay_end client, const struct sockaddr *sa,
		 socklen_t salen)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		relay_end_close(&client);
		log_warning("segment '%s': out of memory, connection dropped", s->id);
		return;
	}
	c->s = s;
	c->id = ++s->d->next_conn_id;
	c->client = client;
	if (salen > sizeof(c->client_sa)) /* a named unix client: its family only */
		salen = sizeof(sa_family_t);
	if (salen > 0)
		memcpy(&c->client_sa, sa, salen);
	c->client_len = salen;
	c->start_usec = now_usec();
	c->state = CONN_ACCEPTED;
	s->conns_active++;
	s->d->conns_active++;
	s->conns_total++;
	LIST_PREPEND(conns, s->conns, c);

	if (s->route == SEGMENT_ROUTE_SNI)
		conn_peek_start(c);
	else
		conn_start(c);
}

void conn_free_all(struct segment *s, const char *reason)
{
	while (s->conns)
		conn_free(s->conns, 0, reason);
}

void conn_bytes_live(const struct segment *s, uint64_t *in, uint64_t *out)
{
	const struct conn *c;

	LIST_FOREACH(conns, c, s->conns) {
		uint64_t i = 0, o = 0;

		if (c->relay)
			relay_bytes(c->relay, &i, &o);
		*in += i;
		*out += o;
	}
}

int conn_foreach(const struct segment *s, int (*fn)(const struct conn_info *ci, void *userdata),
		 void *userdata)
{
	const struct conn *c, *last = NULL;
	_cleanup_free_ char *seg_tail = NULL;
	int r;

	/* the list is newest first (LIST_PREPEND): walk it from its end */
	LIST_FOREACH(conns, c, s->conns)
		last = c;
	for (c = last; c; c = c->conns_prev) {
		_cleanup_free_ char *tail = c->tail ? endpoint_url(&c->tail->ep, true) : NULL;
		char client[SOCKADDR_STR_MAX];
		struct conn_info ci = {
			.id = c->id,
			.state = conn_state_name(c->state),
			.client = sockaddr_format(&c->client_sa.sa, c->client_len, client),
			.start_usec = c->start_usec,
		};

		if (!tail && !seg_tail) {
			seg_tail = segment_tail_url(s);
			if (!seg_tail)
				return -ENOMEM;
		}
		if (c->tail && !tail)
			return -ENOMEM;
		ci.tail = tail ?: seg_tail;
		if (c->relay)
			relay_bytes(c->relay, &ci.bytes_in, &ci.bytes_out);
		r = fn(&ci, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

unsigned conn_count_waiting(const struct segment *s)
{
	const struct conn *c;
	unsigned n = 0;

	LIST_FOREACH(conns, c, s->conns)
		n += c->state == CONN_WAITING;
	return n + (unsigned)s->n_udp_waiting;
}

/* ---- the end of a trigger ----------------------------------------------------------------- */

void conn_trigger_done(struct segment *s, int r, const char *reason)
{
	struct conn *c, *next;

	LIST_FOREACH_SAFE(conns, c, next, s->conns)
	{
		if (c->state != CONN_WAITING)
			continue;
		if (r < 0)
			conn_fail(c, SEGMENT_FAIL_TRIGGER, 0, reason);
		else
			conn_open_tail(c);
	}
	conn_udp_trigger_done(s, r, reason);
}
