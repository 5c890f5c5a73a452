/* SPDX-License-Identifier: MIT */
/*
 * conn-udp.c - the UDP sessions of a segment (conn_udp_ops, handed to a udp head's udp_relay)
 *
 * A session is admitted by the same fair shares as a connection (conn_admit()), counted in the
 * segment's connections, asks the tail for a connected datagram socket (tail ops open_dgram), or
 * waits for the segment's trigger in s->udp_waiting like a connection waits, and ends with the
 * same one log line (conn_log_end()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "conn-internal.h"
#include "conn.h"
#include "engine.h"
#include "segment.h"
#include "sockaddr.h"
#include "tail.h"
#include "time-util.h"
#include "udp-relay.h"

struct udp_start {
	uint64_t usec; /* the session's start, for the log */
};

static void udp_open_backend(struct segment *s, struct udp_session *us)
{
	int fd;

	if (s->tail.ep.down) {
		udp_session_fail(us, -EHOSTDOWN, "the tail's container is not running");
		return;
	}
	if (!s->tail.ops->open_dgram) {
		udp_session_fail(us, -EPROTONOSUPPORT, "the tail carries no datagrams");
		return;
	}
	fd = s->tail.ops->open_dgram(s, &s->tail);
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
	s->d->conns_active++;
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
	conn_log_end(s, NULL, NULL, client, st ? st->usec : now_usec(), in, out, error, reason);
	s->bytes_in_closed += in;
	s->bytes_out_closed += out;
	s->conns_active--;
	s->d->conns_active--;
	engine_fds_released(s->d);
	segment_idle_check(s);
}

static bool on_udp_session_admit(struct udp_relay *u, void *userdata)
{
	struct segment *s = userdata;

	if (conn_admit(s))
		return true;
	conn_refused(s, "a new UDP client");
	return false;
}

const struct udp_relay_ops conn_udp_ops = {
	.session_admit = on_udp_session_admit,
	.session_open = on_udp_session_open,
	.session_done = on_udp_session_done,
};

void conn_udp_trigger_done(struct segment *s, int r, const char *reason)
{
	while (s->n_udp_waiting > 0) {
		struct udp_session *us = s->udp_waiting[--s->n_udp_waiting];

		if (r < 0)
			udp_session_fail(us, 0, reason);
		else
			udp_open_backend(s, us);
	}
}
