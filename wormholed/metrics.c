/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - the Prometheus endpoint: per-segment counters, served by libmicrohttpd on our loop
 *
 * libmicrohttpd runs without a thread of its own (no MHD_USE_INTERNAL_POLLING_THREAD) and with
 * its own epoll set (MHD_USE_EPOLL): that one fd is an sd-event io source, and MHD_get_timeout()
 * drives one timer; each wakeup calls MHD_run(), which never blocks (every socket is
 * non-blocking). It is bounded: at most METRICS_CONNS_MAX scrapes at once, each with a 10 s
 * idle timeout and a small memory pool; the answer is rendered into one buffer per request
 * (a few hundred bytes per segment). We bind the listener ourselves, so an address in use is a
 * clear error at start. Only GET /metrics is served (anything else: 404 or 405).
 *
 * The figures come from each segment's counters (segment.h, struct segment_stats) and its live
 * connections; they start at zero with the segment, end with its delete, and survive a daemon
 * restart with it (the state file keeps them, wormholed/state.c). Per peer link (label `peer`,
 * and `side`: dialed by us or accepted), what lib/peer's link manager knows
 * (peer_manager_links()): up or down, streams open and opened, bytes each way, the last
 * keepalive round trip, reconnects.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <systemd/sd-event.h>

#include "cleanup.h"
#include "link-manager.h"
#include "log.h"
#include "metrics.h"
#include "segment.h"

#define METRICS_CONNS_MAX    16
#define METRICS_TIMEOUT_SEC  10
#define METRICS_MEMORY_LIMIT (32 * 1024)

struct metrics {
	struct daemon *d;
	struct MHD_Daemon *mhd;
	sd_event_source *io, *timer;
};

/* ---- the text ---------------------------------------------------------------------------- */

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Segment ids are [A-Za-z0-9._-]: nothing to escape in a label value. */
#define FOREACH_SEGMENT(d, s) for (const struct segment *s = (d)->segments; s; s = s->next)

enum link_family {
	LINK_UP,
	LINK_STREAMS_OPEN,
	LINK_STREAMS_TOTAL,
	LINK_BYTES,
	LINK_RTT,
	LINK_RECONNECTS,
	_LINK_FAMILY_MAX,
};

static const struct {
	const char *name, *type, *help;
} link_families[_LINK_FAMILY_MAX] = {
	[LINK_UP] = { "wormhole_peer_link_up", "gauge", "1 if the link to/from the peer is up." },
	[LINK_STREAMS_OPEN] = { "wormhole_peer_link_streams_open", "gauge",
				"Streams open on the link now (connections and requests)." },
	[LINK_STREAMS_TOTAL] = { "wormhole_peer_link_streams_total", "counter",
				 "Streams opened on the link, either side." },
	[LINK_BYTES] = { "wormhole_peer_link_bytes_total", "counter",
			 "Stream payload over the link: in = received, out = sent." },
	[LINK_RTT] = { "wormhole_peer_link_rtt_seconds", "gauge",
		       "Round trip of the last keepalive PING (absent until one was answered)." },
	[LINK_RECONNECTS] = { "wormhole_peer_link_reconnects_total", "counter",
			      "Times a dialed link came up again after the first." },
};

struct link_pass {
	FILE *f;
	enum link_family fam;
};

static void on_link(const struct peer_link_info *i, void *userdata)
{
	const struct link_pass *lp = userdata;
	const char *name = link_families[lp->fam].name;
	char labels[300];

	snprintf(labels, sizeof(labels), "peer=\"%s\",side=\"%s\"", i->name,
		 i->dialed ? "dialed" : "accepted");
	switch (lp->fam) {
	case LINK_UP:
		fprintf(lp->f, "%s{%s} %d\n", name, labels, strcmp(i->state, "up") == 0 ? 1 : 0);
		break;
	case LINK_STREAMS_OPEN:
		fprintf(lp->f, "%s{%s} %u\n", name, labels, i->streams);
		break;
	case LINK_STREAMS_TOTAL:
		fprintf(lp->f, "%s{%s} %" PRIu64 "\n", name, labels, i->total.streams_total);
		break;
	case LINK_BYTES:
		fprintf(lp->f, "%s{%s,direction=\"in\"} %" PRIu64 "\n", name, labels,
			i->total.bytes_in);
		fprintf(lp->f, "%s{%s,direction=\"out\"} %" PRIu64 "\n", name, labels,
			i->total.bytes_out);
		break;
	case LINK_RTT:
		if (i->total.rtt_usec)
			fprintf(lp->f, "%s{%s} %.6f\n", name, labels,
				(double)i->total.rtt_usec / 1e6);
		break;
	case LINK_RECONNECTS:
		fprintf(lp->f, "%s{%s} %" PRIu64 "\n", name, labels, i->reconnects);
		break;
	default:
		break;
	}
}

static void render_links(FILE *f, struct peer_manager *m)
{
	for (int fam = 0; fam < _LINK_FAMILY_MAX; fam++) {
		struct link_pass lp = { .f = f, .fam = fam };

		header(f, link_families[fam].name, link_families[fam].type,
		       link_families[fam].help);
		peer_manager_links(m, on_link, &lp);
	}
}

/* A per-segment number kept as a uint64_t in struct segment: one family, one line per segment */
struct seg_metric {
	const char *name, *type, *help;
	size_t off; /* offsetof(struct segment, ...) */
};

#define SEG_METRIC(n, t, h, field)                       \
	{                                                \
		n, t, h, offsetof(struct segment, field) \
	}

static const struct seg_metric seg_conns[] = {
	SEG_METRIC("wormhole_segment_connections_active", "gauge",
		   "Connections (and UDP sessions) open now, waiting or relaying.", conns_active),
	SEG_METRIC("wormhole_segment_connections_total", "counter",
		   "Connections (and UDP sessions) accepted.", conns_total),
};

static const struct seg_metric seg_triggers[] = {
	SEG_METRIC("wormhole_segment_trigger_starts_total", "counter", "Trigger runs started.",
		   stats.trigger_starts),
	SEG_METRIC("wormhole_segment_trigger_failures_total", "counter",
		   "Trigger runs that failed.", stats.trigger_failures),
};

static const struct seg_metric seg_containers[] = {
	SEG_METRIC("wormhole_segment_container_starts_total", "counter",
		   "Containers started by the segment's docker-run words.", stats.container_starts),
	SEG_METRIC(
		"wormhole_segment_container_stops_total", "counter",
		"Containers stopped or removed by the segment (idle stop, failed trigger, delete).",
		stats.container_stops),
	SEG_METRIC("wormhole_segment_idle_stops_total", "counter",
		   "Times the segment scaled to zero after its idle limit.", stats.idle_stops),
};

static void render_seg_metrics(FILE *f, struct daemon *d, const struct seg_metric *m, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		header(f, m[k].name, m[k].type, m[k].help);
		FOREACH_SEGMENT(d, s)
		fprintf(f, "%s{segment=\"%s\"} %" PRIu64 "\n", m[k].name, s->id,
			*(const uint64_t *)((const char *)s + m[k].off));
	}
}

int metrics_render(struct daemon *d, char **ret, size_t *ret_len)
{
	char *text = NULL;
	size_t len = 0;
	unsigned n = 0;
	FILE *f;

	f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	FOREACH_SEGMENT(d, s)
	n++;
	header(f, "wormhole_segments", "gauge", "Segments of this daemon.");
	fprintf(f, "wormhole_segments %u\n", n);

	render_seg_metrics(f, d, seg_conns, ELEMENTSOF(seg_conns));
	header(f, "wormhole_segment_bytes_total", "counter",
	       "Bytes relayed: in = from clients toward the tail, out = back to the clients.");
	FOREACH_SEGMENT(d, s)
	{
		uint64_t in, out;

		segment_bytes(s, &in, &out);
		fprintf(f,
			"wormhole_segment_bytes_total{segment=\"%s\",direction=\"in\"} %" PRIu64
			"\n",
			s->id, in);
		fprintf(f,
			"wormhole_segment_bytes_total{segment=\"%s\",direction=\"out\"} %" PRIu64
			"\n",
			s->id, out);
	}
	header(f, "wormhole_segment_connect_failures_total", "counter",
	       "Connections closed before relaying, by reason.");
	FOREACH_SEGMENT(d, s)
	for (int r = 0; r < _SEGMENT_FAIL_MAX; r++)
		fprintf(f,
			"wormhole_segment_connect_failures_total{segment=\"%s\",reason=\"%s\"} "
			"%" PRIu64 "\n",
			s->id, segment_fail_name(r), s->stats.connect_failures[r]);
	render_seg_metrics(f, d, seg_triggers, ELEMENTSOF(seg_triggers));
	header(f, "wormhole_segment_trigger_duration_seconds", "histogram",
	       "How long trigger runs took (until the tail was ready, or the failure).");
	FOREACH_SEGMENT(d, s)
	{
		uint64_t cum = 0;

		for (size_t i = 0; i < SEGMENT_TRIGGER_BUCKETS; i++) {
			cum += s->stats.trigger_bucket[i];
			fprintf(f,
				"wormhole_segment_trigger_duration_seconds_bucket{segment=\"%s\","
				"le=\"%g\"}"
				" %" PRIu64 "\n",
				s->id, segment_trigger_buckets[i], cum);
		}
		fprintf(f,
			"wormhole_segment_trigger_duration_seconds_bucket{segment=\"%s\",le=\"+"
			"Inf\"} "
			"%" PRIu64 "\n",
			s->id, s->stats.trigger_count);
		fprintf(f, "wormhole_segment_trigger_duration_seconds_sum{segment=\"%s\"} %.6f\n",
			s->id, s->stats.trigger_sum);
		fprintf(f,
			"wormhole_segment_trigger_duration_seconds_count{segment=\"%s\"} %" PRIu64
			"\n",
			s->id, s->stats.trigger_count);
	}
	render_seg_metrics(f, d, seg_containers, ELEMENTSOF(seg_containers));
	if (d->peers)
		render_links(f, d->peers);
	if (fclose(f) != 0 || !text) {
		free(text);
		return -ENOMEM;
	}
	*ret = text;
	*ret_len = len;
	return 0;
}

/* ---- HTTP -------------------------------------------------------------------------------- */

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned status, const char *ctype,
				  char *text, size_t len)
{
	struct MHD_Response *rsp;
	enum MHD_Result ret;

	rsp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!rsp) {
		free(text);
		return MHD_NO;
	}
	(void)MHD_add_response_header(rsp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	ret = MHD_queue_response(conn, status, rsp);
	MHD_destroy_response(rsp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct metrics *m = cls;
	char *text = NULL;
	size_t len = 0;

	if (*upload_size > 0)
		return MHD_NO; /* no bodies here */
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return queue_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
				  strdup("only GET\n"), 10);
	if (strcmp(url, "/metrics") != 0)
		return queue_text(conn, MHD_HTTP_NOT_FOUND, "text/plain",
				  strdup("not found; try /metrics\n"), 24);
	if (metrics_render(m->d, &text, &len) < 0)
		return MHD_NO;
	return queue_text(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

static void metrics_arm(struct metrics *m)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(m->mhd, &ms) == MHD_YES) {
		(void)sd_event_source_set_time_relative(m->timer, ms * 1000);
		(void)sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
	} else {
		(void)sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
	}
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct metrics *m = userdata;

	(void)MHD_run(m->mhd);
	metrics_arm(m);
	return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct metrics *m = userdata;

	(void)MHD_run(m->mhd);
	metrics_arm(m);
	return 0;
}

/* "9100", "127.0.0.1:9100", "[::1]:9100" -> a bound, listening, non-blocking socket */
static int listen_on(const char *addr, int *ret_fd)
{
	_cleanup_free_ char *host = NULL;
	_cleanup_close_ int fd = -EBADF;
	const char *colon = strrchr(addr, ':'), *port = colon ? colon + 1 : addr;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	int r, one = 1;

	if (colon) {
		const char *h = addr;
		size_t n = (size_t)(colon - addr);

		if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
			h++;
			n -= 2;
		}
		host = strndup(h, n);
	} else {
		host = strdup("127.0.0.1");
	}
	if (!host)
		return -ENOMEM;
	if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    strtoul(port, NULL, 10) < 1 || strtoul(port, NULL, 10) > 65535)
		return -EINVAL;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		goto out;
	}
	*ret_fd = TAKE_FD(fd);
	r = 0;
out:
	freeaddrinfo(ai);
	return r;
}

int metrics_new(struct daemon *d, const char *addr, struct metrics **ret)
{
	const union MHD_DaemonInfo *info;
	struct metrics *m;
	int fd = -EBADF, r;

	r = listen_on(addr, &fd);
	if (r < 0)
		return r;
	m = calloc(1, sizeof(*m));
	if (!m) {
		safe_close(fd);
		return -ENOMEM;
	}
	m->d = d;
	/* no thread: MHD_run() from our loop; MHD owns @fd from here on */
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_SUPPRESS_DATE_NO_CLOCK | MHD_USE_TURBO, 0,
				  NULL, NULL, on_request, m, MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNS_MAX,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_SEC,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_MEMORY_LIMIT,
				  MHD_OPTION_END);
	if (!m->mhd) {
		safe_close(fd);
		free(m);
		return -EIO;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	r = info ? sd_event_add_io(d->event, &m->io, info->epoll_fd, EPOLLIN, on_io, m) : -EIO;
	if (r >= 0)
		r = sd_event_add_time_relative(d->event, &m->timer, CLOCK_MONOTONIC, 0, 0, on_timer,
					       m);
	if (r < 0) {
		metrics_free(m);
		return r;
	}
	metrics_arm(m);
	*ret = m;
	return 0;
}

struct metrics *metrics_free(struct metrics *m)
{
	if (!m)
		return NULL;
	m->io = sd_event_source_disable_unref(m->io);
	m->timer = sd_event_source_disable_unref(m->timer);
	if (m->mhd)
		MHD_stop_daemon(m->mhd);
	free(m);
	return NULL;
}
