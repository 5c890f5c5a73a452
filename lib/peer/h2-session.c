/* SPDX-License-Identifier: MIT */
/*
 * h2-session.c - the HTTP/2 session of a peer link and the nghttp2 callbacks that receive
 *
 * h2l_start_h2() creates the nghttp2 session once TLS is up (automatic window updates off, the
 * dialer opening the internal "/rev" stream at once) and registers the callbacks here: headers
 * and requests of incoming streams (handed to the owner, or bound to a reverse open), DATA
 * chunks into a stream's receive queue, PING replies for the round trip, and stream close.
 * On the client, the /rev stream carries one line per reverse open, parsed by rev_line().
 */

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>
#include <systemd/sd-event.h>

#include "cleanup.h"
#include "h2-link-internal.h"
#include "h2-link.h"
#include "log.h"
#include "stream.h"
#include "time-util.h"

/* ---- nghttp2 callbacks -------------------------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct h2_link *l = user_data;
	struct h2s *s;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = h2l_h2s_new(l, NULL);
	if (!s)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	s->incoming = true;
	s->id = frame->hd.stream_id;
	nghttp2_session_set_stream_user_data(session, s->id, s);
	return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user_data)
{
	struct h2s *s;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!s || namelen != 5 || memcmp(name, ":path", 5) != 0)
		return 0;
	if (valuelen > H2_LINK_PATH_MAX || s->path)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
	s->path = strndup((const char *)value, valuelen);
	return s->path ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static void rev_line(struct h2_link *l, const char *line)
{
	char path[H2_LINK_PATH_MAX + 16];
	unsigned long token;
	char *end;
	struct h2s *s;
	int r;

	errno = 0;
	token = strtoul(line, &end, 10);
	if (errno || *end != ' ' || token == 0 || token > UINT32_MAX || strlen(end + 1) == 0 ||
	    strlen(end + 1) > H2_LINK_PATH_MAX) {
		h2l_fail(l, -EPROTO, "peer sent a bad reverse-open line");
		return;
	}
	/* the stream we open is "/rev/<token>"; our consumer sees it under the path asked for */
	snprintf(path, sizeof(path), "/rev/%lu", token);
	s = h2l_h2s_new(l, path);
	if (!s)
		return;
	r = h2l_h2s_submit(l, s);
	if (r < 0) {
		h2l_h2s_destroy(s);
		return;
	}
	s->owned = true;
	if (l->ops->stream(l, end + 1, &s->st, l->userdata) < 0) {
		s->st.ops->free(&s->st); /* resets it */
	}
}

static void rev_input(struct h2_link *l, struct h2s *s, const uint8_t *data, size_t len)
{
	char *nl;

	/* many lines may come in one chunk (a burst of opens): only a partial line is bounded */
	if (s->revlen + len > 4 * H2_LINK_PATH_MAX) {
		const uint8_t *last = memrchr(data, '\n', len);
		size_t tail = last ? len - (size_t)(last - data) - 1 : s->revlen + len;

		if (tail > 4 * H2_LINK_PATH_MAX) {
			h2l_fail(l, -EPROTO, "peer sent an overlong reverse-open line");
			return;
		}
	}
	{
		char *b = realloc(s->revline, s->revlen + len + 1);

		if (!b)
			return;
		s->revline = b;
	}
	memcpy(s->revline + s->revlen, data, len);
	s->revlen += len;
	s->revline[s->revlen] = '\0';
	while (l->state == LINK_UP && (nl = memchr(s->revline, '\n', s->revlen))) {
		size_t ll = (size_t)(nl - s->revline) + 1;

		*nl = '\0';
		rev_line(l, s->revline);
		memmove(s->revline, s->revline + ll, s->revlen - ll + 1);
		s->revlen -= ll;
	}
	(void)nghttp2_session_consume(l->h2, s->id, len);
}

/* A request arrived: hand it to the owner, or bind it to a reverse open. */
static int on_request(struct h2_link *l, struct h2s *s)
{
	int r;

	if (!s->path) {
		(void)nghttp2_submit_rst_stream(l->h2, NGHTTP2_FLAG_NONE, s->id,
						NGHTTP2_PROTOCOL_ERROR);
		return 0;
	}
	if (!l->dialer && strcmp(s->path, "/rev") == 0 && !l->rev) {
		s->rev = true;
		l->rev = s;
		l->stats.streams_total--;
		r = h2l_h2s_submit(l, s);
		if (r >= 0)
			h2l_send_pending(l);
		return 0;
	}
	if (!l->dialer && strncmp(s->path, "/rev/", 5) == 0) {
		unsigned long token = strtoul(s->path + 5, NULL, 10);

		for (struct h2s *p = l->streams; p; p = p->next) {
			if (p->incoming || p->id >= 0 || p->token != token)
				continue;
			/* the pending stream takes this HTTP/2 stream over */
			p->id = s->id;
			p->incoming = true;
			nghttp2_session_set_stream_user_data(l->h2, p->id, p);
			h2l_h2s_destroy(s);
			r = h2l_h2s_submit(l, p);
			if (r < 0) {
				p->rerr = r;
				h2l_h2s_h2_gone(p);
			}
			return 0;
		}
		(void)nghttp2_submit_rst_stream(l->h2, NGHTTP2_FLAG_NONE, s->id,
						NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	/* the owner decides; the response goes out first so DATA can follow */
	r = h2l_h2s_submit(l, s);
	if (r >= 0) {
		s->owned = true;
		r = l->ops->stream(l, s->path, &s->st, l->userdata);
		if (r < 0) {
			s->owned = false;
			s->st.wake = NULL;
		}
	}
	if (r < 0)
		(void)nghttp2_submit_rst_stream(l->h2, NGHTTP2_FLAG_NONE, s->id,
						NGHTTP2_REFUSED_STREAM);
	h2l_schedule_flush(l);
	return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct h2_link *l = user_data;
	struct h2s *s = NULL;

	if (frame->hd.stream_id > 0)
		s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	switch (frame->hd.type) {
	case NGHTTP2_HEADERS:
		if (s && frame->headers.cat == NGHTTP2_HCAT_REQUEST && s->incoming &&
		    !s->submitted) {
			(void)on_request(l, s);
			s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
		}
		break;
	case NGHTTP2_PING:
		if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && l->ping_out) {
			l->ping_out = false;
			l->stats.rtt_usec = now_usec() - l->ping_sent;
			if (l->stats.rtt_usec == 0)
				l->stats.rtt_usec = 1; /* 0 means "not measured" */
		}
		break;
	default:
		break;
	}
	if (s && (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		s->reof = true;
		stream_wake(&s->st);
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *user_data)
{
	struct h2_link *l = user_data;
	struct h2s *s = nghttp2_session_get_stream_user_data(session, stream_id);

	if (!s || !s->rev)
		l->stats.bytes_in += len; /* stream payload: the /rev control lines are not */
	if (!s || !s->owned) {
		if (s && s->rev && l->dialer) {
			rev_input(l, s, data, len);
			return 0;
		}
		(void)nghttp2_session_consume(session, stream_id, len); /* abandoned */
		return 0;
	}
	if (h2l_bq_append(l, &s->rq, data, len) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	stream_wake(&s->st);
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
			   void *user_data)
{
	struct h2_link *l = user_data;
	struct h2s *s = nghttp2_session_get_stream_user_data(session, stream_id);

	if (!s)
		return 0;
	if (error_code == NGHTTP2_REFUSED_STREAM)
		s->rerr = -ECONNREFUSED;
	else if (error_code != NGHTTP2_NO_ERROR || !s->reof)
		s->rerr = -ECONNRESET;
	if (s == l->rev) {
		h2l_fail(l, -EPROTO, "the peer closed the reverse-open stream");
		return 0;
	}
	h2l_h2s_h2_gone(s);
	return 0;
}

int h2l_start_h2(struct h2_link *l)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	const nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1u << 20 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_LINK_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 65535 }, /* fewer frames for bulk data */
	};
	int r;

	if (nghttp2_session_callbacks_new(&cb) != 0)
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_send_data_callback(cb, h2l_on_send_data);
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cb);
		return -ENOMEM;
	}
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_no_closed_streams(opt, 1);
	nghttp2_option_set_peer_max_concurrent_streams(opt, 1u << 20);
	r = l->dialer ? nghttp2_session_client_new2(&l->h2, cb, l, opt)
		      : nghttp2_session_server_new2(&l->h2, cb, l, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (r != 0)
		return -ENOMEM;
	if (nghttp2_submit_settings(l->h2, NGHTTP2_FLAG_NONE, iv, ELEMENTSOF(iv)) != 0 ||
	    nghttp2_session_set_local_window_size(l->h2, NGHTTP2_FLAG_NONE, 0, LINK_WINDOW) != 0)
		return -ENOMEM;
	if (l->dialer) {
		l->rev = h2l_h2s_new(l, "/rev");
		if (!l->rev)
			return -ENOMEM;
		l->rev->rev = true;
		l->stats.streams_total--;
		r = h2l_h2s_submit(l, l->rev);
		if (r < 0)
			return r;
		l->rev->shut_wr = false;
	}
	return 0;
}
