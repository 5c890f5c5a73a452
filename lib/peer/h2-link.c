/* SPDX-License-Identifier: MIT */
/*
 * h2-link.c - a peer link: TLS 1.3 PSK + HTTP/2 on one TCP socket (h2-link.h)
 *
 * Theory of operation. One sd-event io source watches the socket. While the handshake runs,
 * OpenSSL's "want" becomes the event mask. Once up, input is read with SSL_read() in 64 KiB
 * pieces and fed to nghttp2_session_mem_recv(); output is pulled from nghttp2_session_mem_send()
 * into one buffer (so many small frames leave as one TLS record) and written with SSL_write();
 * only when TLS wants to write and cannot is EPOLLOUT asked for. Whatever changes what nghttp2
 * has to send (a stream written to, a window given back, a PING) schedules one flush through a
 * defer source, so a loop iteration's worth of writes leaves together.
 *
 * This file holds the TLS side: the socket, the output buffer and its flush, the read loop,
 * the handshake, the PING and idle timers, and the public h2_link_*() API. The streams and
 * their queues are in h2-streams.c, the HTTP/2 session and its receive callbacks in
 * h2-session.c; h2-link-internal.h holds what they share.
 */

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <systemd/sd-event.h>

#include "cleanup.h"
#include "h2-link-internal.h"
#include "h2-link.h"
#include "log.h"
#include "sockaddr.h"
#include "stream.h"
#include "time-util.h"
#include "tls-psk.h"

/* ---- TLS and the socket ------------------------------------------------------------------- */

static void link_update_events(struct h2_link *l)
{
	uint32_t ev = EPOLLIN;

	if (l->want_pollout)
		ev |= EPOLLOUT;
	(void)sd_event_source_set_io_events(l->io, ev);
}

static int out_append(struct h2_link *l, const void *data, size_t len)
{
	if (l->out_len + len > l->out_cap) {
		size_t ncap = l->out_cap ? l->out_cap : 2 * OUT_BATCH;
		uint8_t *b;

		while (ncap < l->out_len + len)
			ncap *= 2;
		b = realloc(l->out, ncap);
		if (!b)
			return -ENOMEM;
		l->out = b;
		l->out_cap = ncap;
	}
	memcpy(l->out + l->out_len, data, len);
	l->out_len += len;
	return 0;
}

static void link_want_pollout(struct h2_link *l, bool want)
{
	if (l->want_pollout != want) {
		l->want_pollout = want;
		link_update_events(l);
	}
}

/*
 * Writes what l->out holds. TLS may refuse a record half-way (want write): it keeps the record
 * and wants the same bytes again, which stay at l->out + l->out_off.
 * Return: 0 all written, 1 TLS must wait for the socket, <0 the link failed
 */
static int link_write_out(struct h2_link *l)
{
	while (l->out_len > 0) {
		int n;

		ERR_clear_error();
		n = SSL_write(l->ssl, l->out + l->out_off, (int)l->out_len);
		if (n > 0) {
			l->bytes_out += (uint64_t)n;
			l->out_off += (size_t)n;
			l->out_len -= (size_t)n;
			continue;
		}
		switch (SSL_get_error(l->ssl, n)) {
		case SSL_ERROR_WANT_WRITE:
		case SSL_ERROR_WANT_READ:
			link_want_pollout(l, true);
			return 1;
		default: {
			char e[256];

			h2l_fail(l, -ECONNRESET, "write: %s", tls_psk_error(e, sizeof(e)));
			return -ECONNRESET;
		}
		}
	}
	l->out_off = 0;
	return 0;
}

/* nghttp2 sends a DATA frame (see on_data_read()): header and data as one TLS record */
int h2l_on_send_data(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd,
		     size_t length, nghttp2_data_source *source, void *user_data)
{
	struct h2_link *l = user_data;
	struct h2s *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	size_t total = FRAME_HD + length;
	uint8_t *p = NULL;
	int n, r;

	if (!s || frame->data.padlen > 0 || h2l_bq_peek(&s->sq, &p) < length || !p)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* cannot happen: resets the stream */
	/* frames before this one go first */
	r = link_write_out(l);
	if (r < 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (r > 0)
		return NGHTTP2_ERR_WOULDBLOCK; /* called again with the same frame */
	/* Several records in one flush leave corked, as full segments: with TCP_NODELAY each
	 * record would otherwise be a segment of its own, and a wakeup of the peer's reader. */
	if (++l->records == 2 && !l->corked)
		l->corked = setsockopt(l->fd, IPPROTO_TCP, TCP_CORK, &(int){ 1 }, sizeof(int)) == 0;
	/* the BLK_HEAD room, or data sent before: free either way */
	p -= FRAME_HD;
	memcpy(p, framehd, FRAME_HD);
	ERR_clear_error();
	n = SSL_write(l->ssl, p, (int)total);
	if (n <= 0) {
		switch (SSL_get_error(l->ssl, n)) {
		case SSL_ERROR_WANT_WRITE:
		case SSL_ERROR_WANT_READ:
			n = 0;
			link_want_pollout(l, true);
			break;
		default: {
			char e[256];

			h2l_fail(l, -ECONNRESET, "write: %s", tls_psk_error(e, sizeof(e)));
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		}
	}
	/* TLS wants the rest (or the same record again) later: it waits in l->out, which is empty */
	if ((size_t)n < total && out_append(l, p + n, total - (size_t)n) < 0) {
		h2l_fail(l, -ENOMEM, "out of memory");
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	h2l_bq_consume(l, &s->sq, length);
	if (!s->rev)
		l->stats.bytes_out += length;
	l->wrote = true;
	if (s->write_blocked) {
		s->write_blocked = false;
		stream_wake(&s->st);
	}
	return (size_t)n < total ? NGHTTP2_ERR_PAUSE : 0;
}

static void link_uncork(struct h2_link *l)
{
	l->records = 0;
	if (l->corked) {
		l->corked = false;
		(void)setsockopt(l->fd, IPPROTO_TCP, TCP_CORK, &(int){ 0 }, sizeof(int));
	}
}

static int link_flush_once(struct h2_link *l);

/* Return: 0, or <0 when the link failed */
static int link_flush(struct h2_link *l)
{
	int r = link_flush_once(l);

	if (l->state == LINK_UP)
		link_uncork(l);
	return r;
}

static int link_flush_once(struct h2_link *l)
{
	int r;

	if (l->state != LINK_UP)
		return 0;
	for (;;) {
		r = link_write_out(l);
		if (r < 0)
			return r;
		if (r > 0)
			return 0; /* EPOLLOUT brings us back */
		/* gather small frames into one record; DATA goes out from h2l_on_send_data() */
		l->wrote = false;
		while (l->out_len < OUT_BATCH) {
			const uint8_t *data;
			ssize_t k = nghttp2_session_mem_send(l->h2, &data);

			if (l->state != LINK_UP)
				return -ECONNRESET;
			if (k < 0) {
				h2l_fail(l, -EPROTO, "HTTP/2: %s", nghttp2_strerror((int)k));
				return -EPROTO;
			}
			if (k == 0)
				break;
			if (out_append(l, data, (size_t)k) < 0) {
				h2l_fail(l, -ENOMEM, "out of memory");
				return -ENOMEM;
			}
		}
		if (l->out_len == 0 && !l->wrote)
			break;
	}
	link_want_pollout(l, false);
	if (!nghttp2_session_want_read(l->h2) && !nghttp2_session_want_write(l->h2)) {
		h2l_fail(l, -ECONNRESET, "the peer ended the link");
		return -ECONNRESET;
	}
	return 0;
}

static int on_flush(sd_event_source *src, void *userdata)
{
	struct h2_link *l = userdata;

	(void)link_flush(l);
	return 0;
}

void h2l_schedule_flush(struct h2_link *l)
{
	if (l->flush_src && l->state == LINK_UP)
		(void)sd_event_source_set_enabled(l->flush_src, SD_EVENT_ONESHOT);
}

static void link_read(struct h2_link *l)
{
	uint8_t buf[IO_CHUNK];
	int i;

	for (i = 0; i < READS_PER_EVENT && l->state == LINK_UP; i++) {
		ssize_t k;
		int n;

		ERR_clear_error();
		n = SSL_read(l->ssl, buf, sizeof(buf));
		if (n > 0)
			l->bytes_in += (uint64_t)n;
		if (n <= 0) {
			int e = SSL_get_error(l->ssl, n);

			if (e == SSL_ERROR_WANT_READ)
				break;
			if (e == SSL_ERROR_WANT_WRITE) {
				l->want_pollout = true;
				link_update_events(l);
				break;
			}
			if (e == SSL_ERROR_ZERO_RETURN) /* close_notify: an orderly close */
				h2l_fail(l, -ESHUTDOWN, "the peer closed the link");
			else if ((e == SSL_ERROR_SYSCALL && n == 0) ||
				 (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) ==
								SSL_R_UNEXPECTED_EOF_WHILE_READING))
				h2l_fail(l, -ECONNRESET,
					 "the peer closed the connection without a TLS "
					 "close_notify");
			else {
				char msg[256];

				h2l_fail(l, -ECONNRESET, "read: %s",
					 e == SSL_ERROR_SYSCALL ? strerror(errno)
								: tls_psk_error(msg, sizeof(msg)));
			}
			return;
		}
		l->last_rx = now_usec();
		k = nghttp2_session_mem_recv(l->h2, buf, (size_t)n);
		if (k < 0) {
			h2l_fail(l, -EPROTO, "HTTP/2: %s", nghttp2_strerror((int)k));
			return;
		}
	}
	/* read-ahead may hold whole records the socket will not signal again: come back for them */
	if (i == READS_PER_EVENT && l->state == LINK_UP && SSL_has_pending(l->ssl))
		(void)sd_event_source_set_enabled(l->read_src, SD_EVENT_ONESHOT);
	h2l_schedule_flush(l);
}

static int on_read_more(sd_event_source *src, void *userdata)
{
	link_read(userdata);
	return 0;
}

static void link_handshake(struct h2_link *l)
{
	int n, r;

	ERR_clear_error();
	n = SSL_do_handshake(l->ssl);
	if (n == 1) {
		if (SSL_version(l->ssl) != TLS1_3_VERSION || !SSL_session_reused(l->ssl)) {
			h2l_fail(l, -EACCES, "TLS handshake: not a TLS 1.3 PSK session");
			return;
		}
		l->state = LINK_UP;
		l->last_rx = now_usec();
		r = h2l_start_h2(l);
		if (r < 0) {
			h2l_fail(l, r, "cannot start HTTP/2: %s", strerror(-r));
			return;
		}
		if (l->dialer)
			h2l_send_pending(l);
		l->ops->up(l, l->userdata);
		if (l->state != LINK_UP)
			return;
		link_update_events(l);
		(void)link_flush(l);
		if (l->state == LINK_UP && SSL_has_pending(l->ssl))
			link_read(l);
		return;
	}
	switch (SSL_get_error(l->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		(void)sd_event_source_set_io_events(l->io, EPOLLIN);
		return;
	case SSL_ERROR_WANT_WRITE:
		(void)sd_event_source_set_io_events(l->io, EPOLLOUT);
		return;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			int err = errno ? errno : ECONNRESET;

			h2l_fail(l, -err, "TLS handshake: %s", strerror(err));
			return;
		}
		__attribute__((fallthrough));
	default: {
		char e[256];

		h2l_fail(l, -EACCES, "TLS handshake failed (wrong key?): %s",
			 tls_psk_error(e, sizeof(e)));
	}
	}
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct h2_link *l = userdata;

	if (l->state == LINK_HANDSHAKE) {
		if (revents & (EPOLLERR | EPOLLHUP)) {
			int err = 0;
			socklen_t len = sizeof(err);

			(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			h2l_fail(l, err ? -err : -ECONNRESET, "connect: %s",
				 strerror(err ? err : ECONNRESET));
			return 0;
		}
		link_handshake(l);
		return 0;
	}
	if (l->state != LINK_UP)
		return 0;
	if (revents & EPOLLOUT)
		if (link_flush(l) < 0)
			return 0;
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		link_read(l);
	return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct h2_link *l = userdata;
	uint64_t now = now_usec();

	if (l->state == LINK_HANDSHAKE && now - l->started >= H2_LINK_HANDSHAKE_USEC) {
		h2l_fail(l, -ETIMEDOUT, "TLS handshake timed out");
		return 0;
	}
	if (l->state == LINK_UP) {
		if (now - l->last_rx >= H2_LINK_DEAD_USEC) {
			h2l_fail(l, -ETIMEDOUT, "peer not answering for %llu s",
				 (unsigned long long)(H2_LINK_DEAD_USEC / 1000000));
			return 0;
		}
		if (now - l->last_rx >= H2_LINK_PING_USEC && !l->ping_out) {
			(void)nghttp2_submit_ping(l->h2, NGHTTP2_FLAG_NONE, NULL);
			l->ping_out = true;
			l->ping_sent = now;
			h2l_schedule_flush(l);
		} else if (now - l->last_rx >= H2_LINK_PING_USEC * 2) {
			l->ping_out = false; /* ask again */
		}
	}
	if (l->state != LINK_DEAD) {
		(void)sd_event_source_set_time_relative(src, H2_LINK_PING_USEC / 2);
		(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	}
	return 0;
}

static int on_notify(sd_event_source *src, void *userdata)
{
	struct h2_link *l = userdata;
	char *reason = TAKE_PTR(l->down_reason);

	if (l->notified) {
		free(reason);
		return 0;
	}
	l->notified = true;
	l->ops->down(l, l->down_error, reason, l->userdata); /* may free l */
	return 0;
}

void h2l_fail(struct h2_link *l, int error, const char *fmt, ...)
{
	va_list ap;

	if (l->state == LINK_DEAD)
		return;
	l->state = LINK_DEAD;
	l->down_error = error;
	va_start(ap, fmt);
	if (vasprintf(&l->down_reason, fmt, ap) < 0)
		l->down_reason = NULL;
	va_end(ap);
	(void)sd_event_source_set_enabled(l->io, SD_EVENT_OFF);
	(void)sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
	(void)sd_event_source_set_enabled(l->flush_src, SD_EVENT_OFF);
	(void)sd_event_source_set_enabled(l->read_src, SD_EVENT_OFF);
	/* every stream fails now; owners free theirs when they like */
	while (l->streams) {
		struct h2s *s = l->streams;

		h2l_h2s_link_remove(s);
		if (!s->rerr)
			s->rerr = error == -ETIMEDOUT ? -ETIMEDOUT : -ECONNRESET;
		s->h2_closed = true;
		if (!s->owned)
			h2l_h2s_destroy(s);
		else
			stream_wake(&s->st);
	}
	l->rev = NULL;
	(void)sd_event_source_set_enabled(l->notify_src, SD_EVENT_ONESHOT);
}

/* ---- the link ----------------------------------------------------------------------------- */

int h2_link_new(sd_event *e, int fd, SSL_CTX *ctx, bool dialer, const struct h2_link_ops *ops,
		void *userdata, struct h2_link **ret)
{
	union sockaddr_union sa;
	socklen_t salen = sizeof(sa);
	struct h2_link *l;
	int r, one = 1;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->event = sd_event_ref(e);
	l->fd = -EBADF;
	l->dialer = dialer;
	l->ops = ops;
	l->userdata = userdata;
	l->state = LINK_HANDSHAKE;
	l->started = now_usec();
	l->next_token = 1;
	if (getpeername(fd, &sa.sa, &salen) == 0)
		sockaddr_format(&sa.sa, salen, l->peer);
	else
		snprintf(l->peer, sizeof(l->peer), "?");
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	l->ssl = SSL_new(ctx);
	if (!l->ssl || !SSL_set_fd(l->ssl, fd)) {
		r = -ENOMEM;
		goto fail;
	}
	if (dialer)
		SSL_set_connect_state(l->ssl);
	else
		SSL_set_accept_state(l->ssl);
	r = sd_event_add_io(e, &l->io, fd, dialer ? EPOLLOUT : EPOLLIN, on_io, l);
	if (r < 0)
		goto fail;
	r = sd_event_add_defer(e, &l->flush_src, on_flush, l);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_enabled(l->flush_src, SD_EVENT_OFF);
	r = sd_event_add_defer(e, &l->read_src, on_read_more, l);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_enabled(l->read_src, SD_EVENT_OFF);
	r = sd_event_add_defer(e, &l->notify_src, on_notify, l);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_enabled(l->notify_src, SD_EVENT_OFF);
	r = sd_event_add_time_relative(e, &l->timer, CLOCK_MONOTONIC, H2_LINK_PING_USEC / 2,
				       100 * 1000, on_timer, l);
	if (r < 0)
		goto fail;
	l->fd = fd;
	*ret = l;
	return 0;
fail:
	l->io = sd_event_source_disable_unref(l->io);
	h2_link_free(l);
	return r;
}

struct h2_link *h2_link_free(struct h2_link *l)
{
	if (!l)
		return NULL;
	if (l->state == LINK_UP && l->ssl) {
		/* best effort, never waits: the far side sees an orderly close (close_notify), not
		 * an unexpected EOF */
		ERR_clear_error();
		(void)SSL_shutdown(l->ssl);
		ERR_clear_error();
	}
	if (l->state != LINK_DEAD) {
		h2l_fail(l, -ECONNABORTED, "closed");
	}
	l->notified = true;
	l->io = sd_event_source_disable_unref(l->io);
	l->flush_src = sd_event_source_disable_unref(l->flush_src);
	l->read_src = sd_event_source_disable_unref(l->read_src);
	l->timer = sd_event_source_disable_unref(l->timer);
	l->notify_src = sd_event_source_disable_unref(l->notify_src);
	if (l->h2)
		nghttp2_session_del(l->h2);
	if (l->ssl)
		SSL_free(l->ssl);
	safe_close(l->fd);
	free(l->out);
	while (l->pool) {
		struct blk *b = l->pool;

		l->pool = b->next;
		free(b);
	}
	free(l->down_reason);
	sd_event_unref(l->event);
	free(l);
	return NULL;
}

int h2_link_open(struct h2_link *l, const char *path, struct stream **ret)
{
	struct h2s *s;
	int r = 0;

	if (!path || path[0] != '/' || strlen(path) > H2_LINK_PATH_MAX || strchr(path, ' ') ||
	    strchr(path, '\n'))
		return -EINVAL;
	if (l->state == LINK_DEAD)
		return -ENOTCONN;
	s = h2l_h2s_new(l, path);
	if (!s)
		return -ENOMEM;
	s->owned = true;
	if (!l->dialer) {
		s->token = l->next_token++;
		if (l->next_token == 0)
			l->next_token = 1;
	}
	if (l->state == LINK_UP) {
		if (l->dialer)
			r = h2l_h2s_submit(l, s);
		else if (l->rev) {
			r = h2l_h2s_ask_reverse(l, s);
			s->asked = true;
		}
	}
	if (r < 0) {
		h2l_h2s_destroy(s);
		return r;
	}
	*ret = &s->st;
	return 0;
}

bool h2_link_is_up(const struct h2_link *l)
{
	return l->state == LINK_UP;
}

const char *h2_link_peer(const struct h2_link *l)
{
	return l->peer;
}

int h2_link_local(const struct h2_link *l, char *buf)
{
	union sockaddr_union sa = { 0 };
	socklen_t salen = sizeof(sa);

	if (getsockname(l->fd, &sa.sa, &salen) < 0)
		return -errno;
	sockaddr_format(&sa.sa, salen, buf);
	return 0;
}

void h2_link_get_stats(const struct h2_link *l, struct h2_link_stats *ret)
{
	*ret = l->stats;
}

unsigned h2_link_streams(const struct h2_link *l)
{
	return l->n_streams - (l->rev ? 1 : 0);
}

void h2_link_bytes(const struct h2_link *l, uint64_t *ret_in, uint64_t *ret_out)
{
	*ret_in = l->bytes_in;
	*ret_out = l->bytes_out;
}

SSL *h2_link_ssl(const struct h2_link *l)
{
	return l->ssl;
}

void h2_link_set_userdata(struct h2_link *l, void *userdata)
{
	l->userdata = userdata;
}