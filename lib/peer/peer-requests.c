/* SPDX-License-Identifier: MIT */
/*
 * peer-requests.c - one control request to a peer: a line out on a "/ctl" stream, a line back
 *
 * peer_request() opens a "/ctl" stream to the peer (dialing even during a backoff), writes the
 * request line and waits for the reply line; {"progress"...} lines before it go to the
 * progress callback. The stream wakes the request through a defer source, so nothing runs
 * inside the link's own callbacks, and a timer bounds the wait (PEER_REQUEST_TIMEOUT_USEC).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "ctl-proto.h"
#include "link-manager-internal.h"
#include "link-manager.h"
#include "stream.h"

struct peer_request {
	struct peer *p;
	struct stream *st;
	sd_event_source *wake_src, *timeout_src;
	peer_reply_fn cb;
	peer_ctl_fn ctl_cb; /* instead of @cb: peer_ctl_request() */
	void (*progress)(void *userdata, const char *line, size_t len);
	void *userdata;
	char *in;
	size_t in_len;
};

/* ---- requests ----------------------------------------------------------------------------- */

static void request_finish(struct peer_request *rq, int r, const char *line, size_t len)
{
	peer_reply_fn cb = rq->cb;
	peer_ctl_fn ctl_cb = rq->ctl_cb;
	void *ud = rq->userdata;
	_cleanup_free_ char *err = NULL;
	struct ctl_reply rep = { 0 };

	rq->cb = NULL;
	rq->ctl_cb = NULL;
	peer_request_cancel(rq);
	if (cb)
		cb(ud, r, line, len);
	if (!ctl_cb)
		return;
	if (r >= 0)
		r = ctl_reply_parse(line, len, &rep, &err);
	if (r >= 0 && !rep.ok)
		ctl_cb(ud, -EREMOTEIO, rep.error ?: "refused");
	else
		ctl_cb(ud, r < 0 ? r : 0, NULL);
	ctl_reply_done(&rep);
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
	r = lm_peer_open_internal(p, "/ctl", true, &rq->st);
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

int peer_ctl_request(struct peer *p, const char *line, peer_ctl_fn cb, void *userdata,
		     struct peer_request **ret)
{
	struct peer_request *rq = NULL;
	int r;

	r = peer_request(p, line, NULL, userdata, &rq);
	if (r < 0)
		return r;
	rq->ctl_cb = cb;
	if (ret)
		*ret = rq;
	return 0;
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
