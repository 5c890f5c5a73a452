/* SPDX-License-Identifier: MIT */
/*
 * conn.c - connections and UDP sessions of a segment, and the one log line each ends with
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "conn.h"
#include "dgram-stream.h"
#include "list.h"
#include "log.h"
#include "relay.h"
#include "segment.h"
#include "sockaddr.h"
#include "tail.h"
#include "time-util.h"

enum conn_state {
	CONN_WAITING,
	CONN_CONNECTING,
	CONN_RELAYING,
};

struct conn {
	struct segment *s;
	LIST_FIELDS(struct conn, conns);
	uint64_t id;
	enum conn_state state;
	struct relay_end client;
	union sockaddr_union client_sa;
	socklen_t client_len;
	uint64_t start_usec;
	const struct tail_ops *tail_ops; /* the ops that opened @tail_handle */
	void *tail_handle;		 /* an open in progress */
	struct relay *relay;
};

static const char *conn_state_name(enum conn_state st)
{
	static const char *const names[] = {
		[CONN_WAITING] = "waiting",
		[CONN_CONNECTING] = "connecting",
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
static void conn_log_end(const struct segment *s, const char *client, uint64_t start, uint64_t in,
			 uint64_t out, int error, const char *reason)
{
	uint64_t dur = now_usec() - start;
	_cleanup_free_ char *tail = segment_tail_url(s);

	log_full_errno(error < 0 && error != -ECONNRESET ? LOG_NOTICE : LOG_INFO, 0,
		       "segment '%s': %s -> %s: closed after %" PRIu64 ".%03" PRIu64 " s, %" PRIu64
		       " bytes in, %" PRIu64 " bytes out: %s%s%s",
		       s->id, client, tail ?: "?", dur / 1000000, (dur / 1000) % 1000, in, out,
		       reason, error < 0 ? ": " : "", error < 0 ? strerror(-error) : "");
}

static void conn_free(struct conn *c, int error, const char *reason)
{
	struct segment *s = c->s;
	uint64_t in = 0, out = 0;
	char client[SOCKADDR_STR_MAX];

	if (c->relay)
		relay_bytes(c->relay, &in, &out);
	sockaddr_format(&c->client_sa.sa, c->client_len, client);
	conn_log_end(s, client, c->start_usec, in, out, error, reason);
	log_debug("segment '%s' conn %" PRIu64 ": %s -> closed", s->id, c->id,
		  conn_state_name(c->state));
	s->bytes_in_closed += in;
	s->bytes_out_closed += out;
	s->conns_active--;
	LIST_REMOVE(conns, s->conns, c);
	c->relay = relay_free(c->relay);
	if (c->tail_handle)
		c->tail_ops->cancel(c->tail_handle);
	relay_end_close(&c->client);
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

static void on_tail_opened(void *userdata, int r, struct relay_end end)
{
	struct conn *c = userdata;

	c->tail_handle = NULL;
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
}

/* A UDP segment's connection is a peer stream of datagram frames (a `remote` carrying UDP): its
 * tail is a connected datagram socket seen as the same kind of stream (dgram-stream.h). */
static void conn_open_dgram_tail(struct conn *c)
{
	struct segment *s = c->s;
	struct stream *ds;
	int fd, r;

	if (!s->tail_ops->open_dgram) {
		conn_fail(c, SEGMENT_FAIL_CONNECT, -EPROTONOSUPPORT,
			  "the tail carries no datagrams");
		return;
	}
	fd = s->tail_ops->open_dgram(s);
	r = fd < 0 ? fd : dgram_stream_new(s->d->loop, fd, s->d->udp_idle_usec, &ds);
	if (r < 0) {
		if (fd >= 0)
			safe_close(fd);
		conn_fail(c, SEGMENT_FAIL_CONNECT, r, "cannot connect to the tail");
		return;
	}
	on_tail_opened(c, 0, RELAY_END_STREAM(ds));
}

static void conn_open_tail(struct conn *c)
{
	struct segment *s = c->s;
	int r;

	conn_set_state(c, CONN_CONNECTING);
	if (s->tail.down) {
		conn_fail(c, SEGMENT_FAIL_TAIL_DOWN, -EHOSTDOWN,
			  "the tail's container is not running");
		return;
	}
	if (s->head.proto == URL_PROTO_UDP && c->client.stream) {
		conn_open_dgram_tail(c);
		return;
	}
	c->tail_ops = s->tail_ops;
	if (c->tail_ops->open_from)
		r = c->tail_ops->open_from(s, c->client_len ? &c->client_sa.sa : NULL,
					   c->client_len, on_tail_opened, c, &c->tail_handle);
	else
		r = c->tail_ops->open(s, on_tail_opened, c, &c->tail_handle);
	if (r < 0)
		conn_fail(c, SEGMENT_FAIL_CONNECT, r, "cannot connect to the tail");
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
	if (salen > sizeof(c->client_sa))
		salen = 0;
	if (salen > 0)
		memcpy(&c->client_sa, sa, salen);
	c->client_len = salen;
	c->start_usec = now_usec();
	c->state = CONN_WAITING;
	s->conns_active++;
	s->conns_total++;
	LIST_PREPEND(conns, s->conns, c);

	switch (s->state) {
	case SEGMENT_ARMED:
		log_debug("segment '%s' conn %" PRIu64 ": accepted -> waiting", s->id, c->id);
		segment_trigger(s); /* may complete at once and connect every waiting conn */
		break;
	case SEGMENT_TRIGGERING:
	case SEGMENT_STOPPING: /* served once the stop ends and the trigger ran again */
		log_debug("segment '%s' conn %" PRIu64 ": accepted -> waiting", s->id, c->id);
		break;
	default:
		conn_open_tail(c);
	}
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

unsigned conn_count_waiting(const struct segment *s)
{
	const struct conn *c;
	unsigned n = 0;

	LIST_FOREACH(conns, c, s->conns)
		n += c->state == CONN_WAITING;
	return n + (unsigned)s->n_udp_waiting;
}

/* ---- UDP sessions ------------------------------------------------------------------------- */

struct udp_start {
	uint64_t usec; /* the session's start, for the log */
};

static void udp_open_backend(struct segment *s, struct udp_session *us)
{
	int fd;

	if (s->tail.down) {
		udp_session_fail(us, -EHOSTDOWN, "the tail's container is not running");
		return;
	}
	if (!s->tail_ops->open_dgram) {
		udp_session_fail(us, -EPROTONOSUPPORT, "the tail carries no datagrams");
		return;
	}
	fd = s->tail_ops->open_dgram(s);
	if (fd < 0) {
		udp_session_fail(us, fd, "cannot connect to the tail");
		return;
	}
	(void)udp_session_attach(us, fd);
}

static void on_udp_session_open(struct udp_relay *u, struct udp_session *us, void *userdata)
{
	struct segment *s = userdata;
	struct udp_session **w;
	struct udp_start *st = malloc(sizeof(*st));

	s->conns_active++;
	s->conns_total++;
	if (!st) {
		udp_session_fail(us, -ENOMEM, "out of memory");
		return;
	}
	st->usec = now_usec();
	udp_session_set_userdata(us, st);
	if (s->state != SEGMENT_ARMED && s->state != SEGMENT_TRIGGERING &&
	    s->state != SEGMENT_STOPPING) {
		udp_open_backend(s, us);
		return;
	}
	w = realloc(s->udp_waiting, (s->n_udp_waiting + 1) * sizeof(*w));
	if (!w) {
		udp_session_fail(us, -ENOMEM, "out of memory");
		return;
	}
	s->udp_waiting = w;
	s->udp_waiting[s->n_udp_waiting++] = us;
	if (s->state == SEGMENT_ARMED)
		segment_trigger(s);
}

static void on_udp_session_done(struct udp_relay *u, struct udp_session *us, int error,
				const char *reason, void *userdata)
{
	struct segment *s = userdata;
	_cleanup_free_ struct udp_start *st = udp_session_get_userdata(us);
	union sockaddr_union sa = { 0 };
	const struct sockaddr *csa;
	uint64_t in = 0, out = 0;
	socklen_t len = 0;
	char client[SOCKADDR_STR_MAX];

	udp_session_set_userdata(us, NULL);
	for (size_t i = 0; i < s->n_udp_waiting; i++)
		if (s->udp_waiting[i] == us) {
			s->udp_waiting[i] = s->udp_waiting[--s->n_udp_waiting];
			break;
		}
	csa = udp_session_client(us, &len);
	if (csa && len <= sizeof(sa))
		memcpy(&sa, csa, len);
	udp_session_bytes(us, &in, &out);
	sockaddr_format(&sa.sa, len, client);
	conn_log_end(s, client, st ? st->usec : now_usec(), in, out, error, reason);
	s->bytes_in_closed += in;
	s->bytes_out_closed += out;
	s->conns_active--;
	engine_fds_released(s->d);
	segment_idle_check(s);
}

const struct udp_relay_ops conn_udp_ops = {
	.session_open = on_udp_session_open,
	.session_done = on_udp_session_done,
};

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
	while (s->n_udp_waiting > 0) {
		struct udp_session *us = s->udp_waiting[--s->n_udp_waiting];

		if (r < 0)
			udp_session_fail(us, 0, reason);
		else
			udp_open_backend(s, us);
	}
}
