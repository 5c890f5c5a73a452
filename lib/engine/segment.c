/* SPDX-License-Identifier: MIT */
/*
 * segment.c - segment lifecycle, the accept path, triggers, and the per-connection log line
 *
 * Theory of operation. A segment is built by running its words through their chain ops (the
 * "runner"), one after the other; an op may finish later (a container start), so the runner is a
 * small state machine that resumes from the op's done callback. Every op that succeeded leaves
 * an entry in s->applied, so undo is a walk backwards over that array: on a failure halfway, on a
 * failed trigger (only the trigger's entries), and in segment_free().
 *
 * Connections: accept4() in batches; each connection gets a struct conn that either waits for the
 * trigger, or connects to the tail (lib/connector: non-blocking, retried while refused) and then
 * relays (lib/relay: splice for bulk, copies for small reads, half-close). UDP heads hand their
 * datagrams to lib/udp-relay, which asks us for a backend socket per client address. On EMFILE the
 * listener is paused for a moment instead of spinning on a readable socket it cannot accept.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "connector.h"
#include "containers.h"
#include "log.h"
#include "netns.h"
#include "relay.h"
#include "segment.h"
#include "spec.h"
#include "udp-relay.h"
#include "word-ops.h"

#define ACCEPT_BATCH	  64
#define ACCEPT_PAUSE_USEC (100 * 1000ULL)
#define LISTEN_BACKLOG	  4096

struct conn {
	struct segment *s;
	struct conn *prev, *next;
	int client_fd;
	union sockaddr_union client;
	socklen_t client_len;
	uint64_t start_usec;
	bool waiting;  /* for the trigger */
	int tail_nsfd; /* the connector's own reference: a container restart replaces the tail's */
	struct connector *connector;
	struct relay *relay;
};

struct runner {
	struct segment *s;
	const struct spec_word *words;
	size_t n, i;
	bool trig;
	void (*finish)(struct segment *s, int r, char *error);
	const struct chain_op *pending_op;
	void *pending;
};

static int runner_run(struct runner *rn, char **ret_error);

const char *segment_state_name(enum segment_state st)
{
	static const char *const names[] = {
		[SEGMENT_CREATING] = "creating",
		[SEGMENT_LISTENING] = "listening",
		[SEGMENT_ARMED] = "armed",
		[SEGMENT_TRIGGERING] = "triggering",
	};
	return st < ELEMENTSOF(names) ? names[st] : "?";
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

void endpoint_done(struct endpoint *e)
{
	free(e->ns_name);
	free(e->host);
	free(e->path);
	free(e->container);
	free(e->container_id);
	e->nsfd = safe_close(e->nsfd);
	*e = (struct endpoint){ .nsfd = -EBADF };
}

static int strdup_or_null(const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

int endpoint_copy(struct endpoint *dst, const struct endpoint *src)
{
	struct endpoint e = { .proto = src->proto, .port = src->port, .nsfd = -EBADF };

	if (strdup_or_null(src->ns_name, &e.ns_name) < 0 ||
	    strdup_or_null(src->host, &e.host) < 0 || strdup_or_null(src->path, &e.path) < 0) {
		endpoint_done(&e);
		return -ENOMEM;
	}
	if (src->nsfd >= 0) {
		/* each endpoint owns its fd: the original shared one and closed it twice */
		e.nsfd = fcntl(src->nsfd, F_DUPFD_CLOEXEC, 3);
		if (e.nsfd < 0) {
			int r = -errno;

			endpoint_done(&e);
			return r;
		}
	}
	*dst = e;
	return 0;
}

static bool host_is_v6(const char *h)
{
	return h && strchr(h, ':');
}

static char *endpoint_url(const struct endpoint *e, bool with_ns)
{
	const char *proto = url_proto_name(e->proto == URL_PROTO_NONE ? URL_PROTO_TCP : e->proto);
	const char *host = e->host ?: "127.0.0.1";
	/* where it lives: "ns@" for a named netns, "docker:NAME@" for a container */
	bool ns = with_ns && (e->ns_name || e->container);
	const char *where = e->container ?: e->ns_name;
	char *s = NULL;
	int k;

	if (e->proto == URL_PROTO_UNIX)
		k = asprintf(&s, "unix://%s", e->path ?: "");
	else
		k = asprintf(&s, "%s://%s%s%s%s%s%s:%u", proto, ns && e->container ? "docker:" : "",
			     ns ? where : "", ns ? "@" : "", host_is_v6(host) ? "[" : "", host,
			     host_is_v6(host) ? "]" : "", (unsigned)e->port);
	return k < 0 ? NULL : s;
}

char *segment_head_url(const struct segment *s, bool with_ns)
{
	return endpoint_url(&s->head, with_ns);
}

char *segment_tail_url(const struct segment *s)
{
	if (!s->tail_ready)
		return strdup("(on trigger)");
	return endpoint_url(&s->tail, true);
}

/* Numeric addresses directly; names through getaddrinfo (control path only, never per
 * connection: the tail address is resolved once, when the tail is completed). */
static int resolve(const char *host, uint16_t port, int socktype, union sockaddr_union *ret,
		   socklen_t *ret_len)
{
	struct addrinfo hints = { .ai_socktype = socktype, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	union sockaddr_union sa = { 0 };
	int r;

	if (inet_pton(AF_INET, host, &sa.in.sin_addr) == 1) {
		sa.in.sin_family = AF_INET;
		sa.in.sin_port = htons(port);
		*ret = sa;
		*ret_len = sizeof(sa.in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sa.in6.sin6_addr) == 1) {
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons(port);
		*ret = sa;
		*ret_len = sizeof(sa.in6);
		return 0;
	}
	hints.ai_flags = 0;
	r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0) {
		int e = errno;

		return r == EAI_SYSTEM && e > 0 ? -e : -EADDRNOTAVAIL;
	}
	if (!res || res->ai_addrlen > sizeof(sa)) {
		freeaddrinfo(res);
		return -EADDRNOTAVAIL;
	}
	memcpy(&sa, res->ai_addr, res->ai_addrlen);
	*ret_len = res->ai_addrlen;
	freeaddrinfo(res);
	if (sa.sa.sa_family == AF_INET)
		sa.in.sin_port = htons(port);
	else if (sa.sa.sa_family == AF_INET6)
		sa.in6.sin6_port = htons(port);
	else
		return -EAFNOSUPPORT;
	*ret = sa;
	return 0;
}

static int unix_sockaddr(const char *path, union sockaddr_union *ret, socklen_t *ret_len)
{
	union sockaddr_union sa = { .un.sun_family = AF_UNIX };

	if (!path || !*path)
		return -EDESTADDRREQ;
	if (strlen(path) >= sizeof(sa.un.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.un.sun_path, path);
	*ret = sa;
	*ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	return 0;
}

static int socktype_of(enum url_proto p)
{
	return p == URL_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
}

/* ---- registry ----------------------------------------------------------------------------- */

struct segment *segment_find(struct daemon *d, const char *id)
{
	for (struct segment *s = d->segments; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static void segment_register(struct segment *s)
{
	struct daemon *d = s->d;

	s->prev = d->segments_last;
	s->next = NULL;
	if (d->segments_last)
		d->segments_last->next = s;
	else
		d->segments = s;
	d->segments_last = s;
	s->registered = true;
}

static void segment_unregister(struct segment *s)
{
	struct daemon *d = s->d;

	if (!s->registered)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		d->segments = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		d->segments_last = s->prev;
	s->prev = s->next = NULL;
	s->registered = false;
}

static int generate_id(struct daemon *d, char **ret)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		uint8_t b[6];
		char *id;

		if (getrandom(b, sizeof(b), 0) != sizeof(b))
			return -EIO;
		if (asprintf(&id, "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5]) <
		    0)
			return -ENOMEM;
		if (!segment_find(d, id)) {
			*ret = id;
			return 0;
		}
		free(id);
	}
	return -EEXIST;
}

/* ---- connections -------------------------------------------------------------------------- */

static void conn_link(struct segment *s, struct conn *c)
{
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
}

static void conn_unlink(struct conn *c)
{
	struct segment *s = c->s;

	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
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
	sockaddr_format(&c->client.sa, c->client_len, client);
	conn_log_end(s, client, c->start_usec, in, out, error, reason);
	s->bytes_in_closed += in;
	s->bytes_out_closed += out;
	s->conns_active--;
	conn_unlink(c);
	c->relay = relay_free(c->relay);
	c->connector = connector_free(c->connector);
	c->tail_nsfd = safe_close(c->tail_nsfd);
	c->client_fd = safe_close(c->client_fd);
	free(c);
}

static void on_relay_done(struct relay *r, int error, const char *reason, void *userdata)
{
	conn_free(userdata, error, reason);
}

static void on_tail_connected(struct connector *cn, int fd, void *userdata)
{
	struct conn *c = userdata;
	int r;

	c->connector = connector_free(c->connector);
	c->tail_nsfd = safe_close(c->tail_nsfd);
	if (fd < 0) {
		conn_free(c, fd,
			  fd == -ETIMEDOUT ? "tail refused until the connect timeout"
					   : "cannot connect to the tail");
		return;
	}
	r = relay_new(c->s->d->loop, c->s->d->pipes, RELAY_END_FD(c->client_fd), RELAY_END_FD(fd),
		      on_relay_done, c, &c->relay);
	if (r < 0) {
		safe_close(fd);
		conn_free(c, r, "cannot start relaying");
		return;
	}
	c->client_fd = -EBADF; /* the relay owns it now */
}

static void conn_connect_tail(struct conn *c)
{
	struct segment *s = c->s;
	int r;

	c->waiting = false;
	if (s->tail.down) {
		conn_free(c, -EHOSTDOWN, "the tail's container is not running");
		return;
	}
	if (s->tail.nsfd >= 0) {
		c->tail_nsfd = fcntl(s->tail.nsfd, F_DUPFD_CLOEXEC, 3);
		if (c->tail_nsfd < 0) {
			conn_free(c, -errno, "cannot connect to the tail");
			return;
		}
	}
	r = connector_new(s->d->loop, c->tail_nsfd, &s->tail_sa.sa, s->tail_salen, SOCK_STREAM,
			  s->d->connect_timeout_usec, on_tail_connected, c, &c->connector);
	if (r < 0)
		conn_free(c, r, "cannot connect to the tail");
}

static void segment_trigger(struct segment *s);

static void conn_new(struct segment *s, int fd, const union sockaddr_union *sa, socklen_t salen)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		safe_close(fd);
		log_warning("segment '%s': out of memory, connection dropped", s->id);
		return;
	}
	c->s = s;
	c->client_fd = fd;
	c->tail_nsfd = -EBADF;
	c->client = *sa;
	c->client_len = salen;
	c->start_usec = now_usec();
	s->conns_active++;
	s->conns_total++;
	conn_link(s, c);

	switch (s->state) {
	case SEGMENT_ARMED:
		c->waiting = true;
		segment_trigger(s); /* may complete at once and connect every waiting conn */
		break;
	case SEGMENT_TRIGGERING:
		c->waiting = true;
		break;
	default:
		conn_connect_tail(c);
	}
}

static int on_accept_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct segment *s = userdata;

	s->accept_retry_src = sd_event_source_unref(s->accept_retry_src);
	(void)sd_event_source_set_enabled(s->listen_src, SD_EVENT_ON);
	return 0;
}

static void accept_pause(struct segment *s, int error)
{
	int r;

	log_warning_errno(error, "segment '%s': cannot accept, pausing the listener for %llu ms",
			  s->id, ACCEPT_PAUSE_USEC / 1000);
	(void)sd_event_source_set_enabled(s->listen_src, SD_EVENT_OFF);
	if (s->accept_retry_src)
		return;
	r = sd_event_add_time_relative(s->d->event, &s->accept_retry_src, CLOCK_MONOTONIC,
				       ACCEPT_PAUSE_USEC, 10 * 1000, on_accept_retry, s);
	if (r < 0) /* cannot pause: keep accepting rather than go deaf */
		(void)sd_event_source_set_enabled(s->listen_src, SD_EVENT_ON);
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct segment *s = userdata;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		union sockaddr_union sa = { 0 };
		socklen_t salen = sizeof(sa);
		int cfd;

		cfd = accept4(fd, &sa.sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				accept_pause(s, -errno);
				break;
			}
			log_warning_errno(-errno, "segment '%s': accept failed, ignoring", s->id);
			break;
		}
		if (s->conns_active >= s->d->max_conns) {
			char client[SOCKADDR_STR_MAX];

			sockaddr_format(&sa.sa, salen, client);
			log_notice("segment '%s': %s refused: %u connections is the limit", s->id,
				   client, s->d->max_conns);
			safe_close(cfd);
			continue;
		}
		conn_new(s, cfd, &sa, salen);
	}
	return 0;
}

/* ---- UDP sessions ------------------------------------------------------------------------- */

static void udp_open_backend(struct segment *s, struct udp_session *us)
{
	int fd, r;

	if (s->tail.down) {
		udp_session_fail(us, -EHOSTDOWN, "the tail's container is not running");
		return;
	}
	fd = netns_socket(s->tail.nsfd, s->tail_sa.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		udp_session_fail(us, fd, "cannot create the tail socket");
		return;
	}
	if (connect(fd, &s->tail_sa.sa, s->tail_salen) < 0) {
		r = -errno;
		safe_close(fd);
		udp_session_fail(us, r, "cannot connect to the tail");
		return;
	}
	(void)udp_session_attach(us, fd);
}

static void on_udp_session_open(struct udp_relay *u, struct udp_session *us, void *userdata)
{
	struct segment *s = userdata;
	struct udp_session **w;

	s->conns_active++;
	s->conns_total++;
	udp_session_set_userdata(us, (void *)(uintptr_t)now_usec()); /* its start, for the log */
	if (s->state != SEGMENT_ARMED && s->state != SEGMENT_TRIGGERING) {
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
	union sockaddr_union sa = { 0 };
	const struct sockaddr *csa;
	uint64_t in = 0, out = 0;
	socklen_t len = 0;
	char client[SOCKADDR_STR_MAX];

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
	conn_log_end(s, client, (uint64_t)(uintptr_t)udp_session_get_userdata(us), in, out, error,
		     reason);
	s->bytes_in_closed += in;
	s->bytes_out_closed += out;
	s->conns_active--;
}

static const struct udp_relay_ops segment_udp_ops = {
	.session_open = on_udp_session_open,
	.session_done = on_udp_session_done,
};

/* ---- applying words ----------------------------------------------------------------------- */

static int applied_push(struct segment *s, const struct chain_op *op, void *state, bool trig)
{
	struct applied *a = realloc(s->applied, (s->n_applied + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	s->applied = a;
	s->applied[s->n_applied++] = (struct applied){ .op = op, .state = state, .trig = trig };
	return 0;
}

/* Undo in reverse order; only the trigger's entries when @trig_only. */
static void segment_undo(struct segment *s, bool trig_only)
{
	while (s->n_applied > 0) {
		struct applied a = s->applied[s->n_applied - 1];

		if (trig_only && !a.trig)
			break;
		s->n_applied--;
		if (a.op->undo)
			a.op->undo(s, a.state);
	}
}

static struct runner *runner_free(struct runner *rn)
{
	if (!rn)
		return NULL;
	if (rn->pending_op && rn->pending_op->cancel)
		rn->pending_op->cancel(rn->s, rn->pending);
	free(rn);
	return NULL;
}

static void runner_on_done(void *userdata, int r, void *state, char *error)
{
	struct runner *rn = userdata;
	struct segment *s = rn->s;
	const struct chain_op *op = rn->pending_op;
	void (*finish)(struct segment *, int, char *) = rn->finish;

	rn->pending_op = NULL;
	rn->pending = NULL;
	if (r >= 0) {
		r = applied_push(s, op, state, rn->trig);
		if (r < 0 && op->undo)
			op->undo(s, state);
	}
	if (r >= 0) {
		rn->i++;
		r = runner_run(rn, &error);
		if (r == 1)
			return;
	}
	s->runner = runner_free(s->runner);
	finish(s, r < 0 ? r : 0, error);
}

/* Runs words from rn->i on. Return: 0 all applied, 1 waiting for an op, <0 failed (what this
 * run applied is undone by the caller through segment_undo()). */
static int runner_run(struct runner *rn, char **ret_error)
{
	struct segment *s = rn->s;

	for (; rn->i < rn->n; rn->i++) {
		const struct spec_word *w = &rn->words[rn->i];
		const struct chain_op *op = s->d->ops[w->type];
		struct endpoint *target =
			w->tail || spec_word_is_link(w->type) ? &s->tail : &s->head;
		void *state = NULL;
		int r;

		if (!op || !op->apply) {
			if (asprintf(ret_error, "word %u '%s': not supported by this wormholed",
				     w->pos, spec_word_name(w->type)) < 0)
				*ret_error = NULL;
			return -EOPNOTSUPP;
		}
		r = op->apply(s, w, target, &state, ret_error, runner_on_done, rn);
		if (r < 0)
			return r;
		if (r == 1) {
			rn->pending_op = op;
			rn->pending = state;
			return 1;
		}
		r = applied_push(s, op, state, rn->trig);
		if (r < 0) {
			if (op->undo)
				op->undo(s, state);
			return r;
		}
	}
	return 0;
}

/* Return: 0 done, 1 pending (@finish called later), <0 failed (nothing of this run is left). */
static int runner_start(struct segment *s, const struct spec_word *words, size_t n, bool trig,
			void (*finish)(struct segment *, int, char *), char **ret_error)
{
	struct runner *rn;
	int r;

	if (n == 0)
		return 0;
	rn = calloc(1, sizeof(*rn));
	if (!rn)
		return -ENOMEM;
	*rn = (struct runner){ .s = s, .words = words, .n = n, .trig = trig, .finish = finish };
	s->runner = rn;
	r = runner_run(rn, ret_error);
	if (r == 1)
		return 1;
	s->runner = runner_free(s->runner);
	if (r < 0 && !trig)
		segment_undo(s, false);
	else if (r < 0)
		segment_undo(s, true);
	return r;
}

/* ---- head and tail ------------------------------------------------------------------------ */

static int seg_error(char **ret_error, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int seg_error(char **ret_error, int r, const char *fmt, ...)
{
	_cleanup_free_ char *m = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	free(*ret_error);
	*ret_error = NULL;
	if (m && asprintf(ret_error, "%s: %s", m, strerror(-r)) < 0)
		*ret_error = NULL;
	return r;
}

static int unix_prepare_path(const char *path)
{
	union sockaddr_union sa;
	socklen_t len;
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	/* a socket file nobody answers on is stale: take it over, like systemd does */
	r = unix_sockaddr(path, &sa, &len);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, &sa.sa, len) < 0 ? -errno : -EADDRINUSE;
	safe_close(fd);
	if (r == -ECONNREFUSED) {
		(void)unlink(path);
		return 0;
	}
	return -EADDRINUSE;
}

static int segment_listen(struct segment *s, char **ret_error)
{
	struct endpoint *h = &s->head;
	_cleanup_free_ char *url = NULL;
	_cleanup_close_ int fd = -EBADF;
	union sockaddr_union sa = { 0 };
	socklen_t salen = 0;
	int r, one = 1;

	if (h->proto == URL_PROTO_NONE)
		h->proto = URL_PROTO_TCP;
	if (h->proto != URL_PROTO_UNIX && !h->host) {
		h->host = strdup("127.0.0.1");
		if (!h->host)
			return -ENOMEM;
	}
	url = endpoint_url(h, true);

	if (h->proto == URL_PROTO_UNIX) {
		r = unix_sockaddr(h->path, &sa, &salen);
		if (r < 0)
			return seg_error(ret_error, r, "head '%s'", url ?: "");
		r = unix_prepare_path(h->path);
		if (r < 0)
			return seg_error(ret_error, r, "head '%s'", url ?: "");
		fd = netns_socket(-1, AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	} else {
		r = resolve(h->host, h->port, socktype_of(h->proto), &sa, &salen);
		if (r < 0)
			return seg_error(ret_error, r, "head '%s': cannot resolve '%s'", url ?: "",
					 h->host);
		fd = netns_socket(h->nsfd, sa.sa.sa_family, socktype_of(h->proto) | SOCK_NONBLOCK,
				  0);
	}
	if (fd < 0)
		return seg_error(ret_error, fd, "head '%s': cannot create socket", url ?: "");
	if (h->proto == URL_PROTO_TCP)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &sa.sa, salen) < 0)
		return seg_error(ret_error, -errno, "head '%s'", url ?: "");
	if (h->proto == URL_PROTO_UNIX)
		(void)chmod(h->path, 0666); /* as reachable as a loopback port is */
	if (h->proto != URL_PROTO_UDP && listen(fd, LISTEN_BACKLOG) < 0)
		return seg_error(ret_error, -errno, "head '%s': listen", url ?: "");
	if (h->proto != URL_PROTO_UNIX) {
		salen = sizeof(sa);
		if (getsockname(fd, &sa.sa, &salen) < 0)
			return -errno;
		h->port = ntohs(sa.sa.sa_family == AF_INET ? sa.in.sin_port : sa.in6.sin6_port);
	}

	if (h->proto == URL_PROTO_UDP) {
		r = udp_relay_new(s->d->event, fd, s->d->udp_idle_usec, s->d->max_conns,
				  &segment_udp_ops, s, &s->udp);
		if (r < 0)
			return seg_error(ret_error, r, "head '%s'", url ?: "");
		fd = -EBADF;
		s->listen_fd = -EBADF;
		return 0;
	}
	r = sd_event_add_io(s->d->event, &s->listen_src, fd, EPOLLIN, on_accept, s);
	if (r < 0)
		return seg_error(ret_error, r, "head '%s'", url ?: "");
	s->listen_fd = TAKE_FD(fd);
	return 0;
}

static void segment_unlisten(struct segment *s)
{
	s->accept_retry_src = sd_event_source_unref(s->accept_retry_src);
	s->listen_src = sd_event_source_disable_unref(s->listen_src);
	if (s->listen_fd >= 0) {
		s->listen_fd = safe_close(s->listen_fd);
		if (s->head.proto == URL_PROTO_UNIX && s->head.path)
			(void)unlink(s->head.path);
	}
	s->udp = udp_relay_free(s->udp);
}

/* Defaults for the tail, its address, and the check that it is not the head itself. */
static int segment_finish_tail(struct segment *s, char **ret_error)
{
	struct endpoint *t = &s->tail, *h = &s->head;
	_cleanup_free_ char *url = NULL;
	int r;

	if (t->proto == URL_PROTO_NONE)
		t->proto = t->path ? URL_PROTO_UNIX
				   : (h->proto == URL_PROTO_UNIX ? URL_PROTO_TCP : h->proto);
	if ((t->proto == URL_PROTO_UDP) != (h->proto == URL_PROTO_UDP))
		return seg_error(ret_error, -EPROTOTYPE,
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
			return seg_error(ret_error, -EDESTADDRREQ,
					 "segment '%s': the tail needs a port", s->id);
	}
	url = endpoint_url(t, true);
	if (t->proto == URL_PROTO_UNIX)
		r = unix_sockaddr(t->path, &s->tail_sa, &s->tail_salen);
	else
		r = resolve(t->host, t->port, socktype_of(t->proto), &s->tail_sa, &s->tail_salen);
	if (r < 0)
		return seg_error(ret_error, r, "segment '%s': tail '%s'", s->id, url ?: "");

	if (t->proto == h->proto && netns_same(t->nsfd, h->nsfd)) {
		bool same = false;

		if (t->proto == URL_PROTO_UNIX)
			same = h->path && strcmp(h->path, t->path) == 0;
		else
			same = t->port == h->port &&
			       (strcmp(t->host, h->host) == 0 || strcmp(h->host, "0.0.0.0") == 0 ||
				strcmp(h->host, "::") == 0);
		if (same)
			return seg_error(ret_error, -ELOOP,
					 "segment '%s': the tail '%s' is the head itself", s->id,
					 url ?: "");
	}
	s->tail_ready = true;
	return 0;
}

/* ---- the trigger -------------------------------------------------------------------------- */

static void trigger_finished(struct segment *s, int r, char *error)
{
	_cleanup_free_ char *err = error;

	if (r >= 0) {
		r = segment_finish_tail(s, &err);
		if (r < 0)
			segment_undo(s, true);
	}
	if (r < 0) {
		unsigned n = 0;

		/* back to the tail as it was before the trigger, armed for the next connection */
		endpoint_done(&s->tail);
		s->tail = s->tail_saved;
		s->tail_saved = (struct endpoint){ .nsfd = -EBADF };
		s->tail_ready = false;
		for (struct conn *c = s->conns; c; c = c->next)
			n += c->waiting;
		n += (unsigned)s->n_udp_waiting;
		/* the reason first, then one line per connection it ends */
		log_error("segment '%s': trigger failed: %s; closing %u waiting connection(s), "
			  "armed again",
			  s->id, err ?: "unknown error", n);
		for (struct conn *c = s->conns, *next; c; c = next) {
			next = c->next;
			if (c->waiting)
				conn_free(c, 0, "trigger failed");
		}
		while (s->n_udp_waiting > 0)
			udp_session_fail(s->udp_waiting[0], 0, "trigger failed");
		s->state = SEGMENT_ARMED;
		return;
	}

	endpoint_done(&s->tail_saved);
	s->state = SEGMENT_LISTENING;
	{
		_cleanup_free_ char *tail = segment_tail_url(s);
		log_info("segment '%s': triggered, tail is %s", s->id, tail ?: "?");
	}
	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (c->waiting)
			conn_connect_tail(c);
	}
	while (s->n_udp_waiting > 0) {
		struct udp_session *us = s->udp_waiting[--s->n_udp_waiting];
		udp_open_backend(s, us);
	}
}

static void segment_trigger(struct segment *s)
{
	_cleanup_free_ char *error = NULL;
	int r;

	s->state = SEGMENT_TRIGGERING;
	log_info("segment '%s': first connection, running the trigger", s->id);
	r = endpoint_copy(&s->tail_saved, &s->tail);
	if (r < 0) {
		trigger_finished(s, r, NULL);
		return;
	}
	r = runner_start(s, s->sseg->trig, s->sseg->n_trig, true, trigger_finished, &error);
	if (r == 1)
		return;
	trigger_finished(s, r, TAKE_PTR(error));
}

/* ---- creation and deletion ---------------------------------------------------------------- */

static int create_finish(struct segment *s, char **ret_error)
{
	_cleanup_free_ char *head = NULL, *tail = NULL;
	int r;

	r = segment_listen(s, ret_error);
	if (r < 0)
		return r;
	if (s->sseg->n_trig == 0) {
		r = segment_finish_tail(s, ret_error);
		if (r < 0)
			return r;
		s->state = SEGMENT_LISTENING;
	} else {
		s->state = SEGMENT_ARMED;
	}
	segment_register(s);
	head = segment_head_url(s, true);
	tail = segment_tail_url(s);
	log_info("segment '%s' created: %s -> %s%s%s", s->id, head ?: "?", tail ?: "?",
		 s->parent ? ", child of " : "", s->parent ? s->parent->id : "");
	return 0;
}

static void create_after_init(struct segment *s, int r, char *error)
{
	segment_created_fn cb = s->create_cb;
	void *userdata = s->create_userdata;

	if (r >= 0)
		r = create_finish(s, &error);
	if (r < 0) {
		s = segment_free(s);
		cb(NULL, r, error, userdata);
		return;
	}
	cb(s, 0, NULL, userdata);
}

int segment_create(struct daemon *d, const char *id, struct spec *spec, const struct spec_seg *sseg,
		   const struct endpoint *head_init, struct segment *parent, segment_created_fn cb,
		   void *userdata, struct segment **ret, char **ret_error)
{
	struct segment *s;
	int r;

	*ret_error = NULL;
	if (id && segment_find(d, id)) {
		if (asprintf(ret_error, "segment '%s' already exists", id) < 0)
			*ret_error = NULL;
		return -EEXIST;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->sseg = sseg;
	s->parent = parent;
	s->listen_fd = -EBADF;
	s->head = (struct endpoint){ .nsfd = -EBADF };
	s->tail = (struct endpoint){ .nsfd = -EBADF };
	s->tail_saved = (struct endpoint){ .nsfd = -EBADF };
	s->state = SEGMENT_CREATING;
	s->create_cb = cb;
	s->create_userdata = userdata;
	r = id ? ((s->id = strdup(id)) ? 0 : -ENOMEM) : generate_id(d, &s->id);
	if (r >= 0 && head_init)
		r = endpoint_copy(&s->head, head_init);
	if (r >= 0 && s->head.container_id) /* a child listening inside its parent's container */
		r = container_watch_new(s, &s->head, s->head.container_id, s->head.container, 0,
					&s->head_watch);
	if (r < 0) {
		segment_free(s);
		return r;
	}

	r = runner_start(s, sseg->init, sseg->n_init, false, create_after_init, ret_error);
	if (r == 1) {
		s->spec = spec; /* ownership passes only on success; see segment_created_fn */
		*ret = s;
		return 1;
	}
	if (r >= 0)
		r = create_finish(s, ret_error);
	if (r < 0) {
		segment_free(s);
		return r;
	}
	s->spec = spec;
	*ret = s;
	return 0;
}

struct segment *segment_free(struct segment *s)
{
	if (!s)
		return NULL;
	s->runner = runner_free(s->runner);
	segment_unlisten(s);
	while (s->conns)
		conn_free(s->conns, 0, "segment deleted");
	free(s->udp_waiting);
	s->udp_waiting = NULL;
	s->n_udp_waiting = 0;
	segment_undo(s, false); /* children, containers: in reverse */
	s->head_watch = container_watch_free(s->head_watch);
	free(s->applied);
	segment_unregister(s);
	if (s->state != SEGMENT_CREATING)
		log_info("segment '%s' deleted", s->id);
	endpoint_done(&s->head);
	endpoint_done(&s->tail);
	endpoint_done(&s->tail_saved);
	spec_free(s->spec);
	free(s->id);
	free(s);
	return NULL;
}

void segment_endpoint_set_down(struct segment *s, struct endpoint *e, bool down)
{
	_cleanup_free_ char *err = NULL;
	int r;

	e->down = down;
	if (e != &s->head || s->state == SEGMENT_CREATING)
		return;
	if (down) {
		segment_unlisten(s);
		return;
	}
	if (s->listen_fd >= 0 || s->udp)
		return;
	r = segment_listen(s, &err);
	if (r < 0) {
		e->down = true;
		log_error("segment '%s': cannot listen again: %s", s->id, err ?: strerror(-r));
		return;
	}
	log_info("segment '%s': listening again in the new namespace", s->id);
}

struct segment *segment_top(struct segment *s)
{
	while (s->parent)
		s = s->parent;
	return s;
}

void segment_bytes(const struct segment *s, uint64_t *ret_in, uint64_t *ret_out)
{
	uint64_t in = s->bytes_in_closed, out = s->bytes_out_closed;

	for (const struct conn *c = s->conns; c; c = c->next) {
		uint64_t i = 0, o = 0;

		if (c->relay)
			relay_bytes(c->relay, &i, &o);
		in += i;
		out += o;
	}
	*ret_in = in;
	*ret_out = out;
}

void daemon_free_all_segments(struct daemon *d)
{
	/* top segments free their descendants through their child words */
	while (d->segments) {
		struct segment *s = d->segments;

		while (s->parent)
			s = s->parent;
		segment_free(s);
	}
}
