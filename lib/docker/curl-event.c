/* SPDX-License-Identifier: MIT */
/*
 * curl-event.c - libcurl multi on sd-event (after systemd's curl-util.c)
 *
 * curl keeps, per socket it wants watched, a pointer we give it with curl_multi_assign(): our
 * struct ce_sock holding the io source. Sockets and transfers are also kept on lists of our
 * own so curl_event_free() can drop every source even if curl does not report each socket's
 * removal while it shuts down. Finished transfers are collected from curl_multi_info_read()
 * after curl_multi_socket_action() has returned; done callbacks run there, outside curl, and
 * the curl_event is kept alive (dispatch depth) until the last of them returns.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "cleanup.h"
#include "curl-event.h"
#include "list.h"
#include "log.h"

struct ce_sock {
	struct curl_event *ce;
	sd_event_source *io;
	curl_socket_t fd;
	LIST_FIELDS(struct ce_sock, socks);
};

struct ce_xfer {
	CURL *easy;
	curl_event_done_fn done;
	void *userdata;
	LIST_FIELDS(struct ce_xfer, xfers);
};

struct curl_event {
	sd_event *event;
	CURLM *multi;
	sd_event_source *timer;
	struct ce_sock *socks;
	struct ce_xfer *xfers;
	unsigned dispatching; /* > 0 while handlers run: free is deferred */
	bool dead;	      /* curl_event_free() was called during dispatch */
};

static void ce_sock_free(struct ce_sock *s)
{
	if (!s)
		return;
	LIST_REMOVE(socks, s->ce->socks, s);
	(void)sd_event_source_disable_unref(s->io);
	free(s);
}

static void ce_destroy(struct curl_event *ce)
{
	while (ce->xfers) {
		struct ce_xfer *x = ce->xfers;

		(void)curl_multi_remove_handle(ce->multi, x->easy);
		(void)curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
		LIST_REMOVE(xfers, ce->xfers, x);
		free(x);
	}
	/* Closing cached connections may still call the socket and timer callbacks. */
	if (ce->multi)
		(void)curl_multi_cleanup(ce->multi);
	while (ce->socks)
		ce_sock_free(ce->socks);
	(void)sd_event_source_disable_unref(ce->timer);
	sd_event_unref(ce->event);
	free(ce);
}

static int curlcode_to_errno(CURL *easy, CURLcode c)
{
	long oserr = 0;

	switch (c) {
	case CURLE_OK:
		return 0;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		/* For a unix socket: ENOENT (no socket file), ECONNREFUSED (nobody listens), EACCES. */
		if (curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK && oserr > 0)
			return -(int)oserr;
		return -ECONNREFUSED;
	case CURLE_WRITE_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	default:
		return -EIO;
	}
}

/* Completes every finished transfer. Runs outside any curl callback. */
static void ce_drain(struct curl_event *ce)
{
	CURLMsg *msg;
	int left;

	while (!ce->dead && (msg = curl_multi_info_read(ce->multi, &left))) {
		struct ce_xfer *x = NULL;
		CURL *easy = msg->easy_handle;
		CURLcode code = msg->data.result;
		int r;

		if (msg->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		(void)curl_multi_remove_handle(ce->multi, easy);
		if (!x)
			continue;
		(void)curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		LIST_REMOVE(xfers, ce->xfers, x);
		r = curlcode_to_errno(easy, code);
		x->done(easy, r, r < 0 ? curl_easy_strerror(code) : NULL, x->userdata);
		free(x);
	}
}

static void ce_action(struct curl_event *ce, curl_socket_t fd, int mask)
{
	int running;
	CURLMcode mc;

	ce->dispatching++;
	mc = curl_multi_socket_action(ce->multi, fd, mask, &running);
	if (mc != CURLM_OK)
		log_debug("curl_multi_socket_action: %s", curl_multi_strerror(mc));
	ce_drain(ce);
	if (--ce->dispatching == 0 && ce->dead)
		ce_destroy(ce);
}

static int on_curl_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct curl_event *ce = userdata;
	int mask = 0;

	if (revents & (EPOLLIN | EPOLLHUP))
		mask |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (revents & EPOLLERR)
		mask |= CURL_CSELECT_ERR;
	ce_action(ce, fd, mask);
	return 0;
}

static int on_curl_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	ce_action(userdata, CURL_SOCKET_TIMEOUT, 0);
	return 0;
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct curl_event *ce = userp;
	struct ce_sock *s = socketp;
	uint32_t events = 0;
	int r;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			(void)curl_multi_assign(ce->multi, fd, NULL);
			ce_sock_free(s);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EPOLLOUT;

	if (s)
		return sd_event_source_set_io_events(s->io, events) < 0 ? -1 : 0;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	r = sd_event_add_io(ce->event, &s->io, fd, events, on_curl_io, ce);
	if (r < 0) {
		free(s);
		return -1;
	}
	(void)sd_event_source_set_description(s->io, "curl-io");
	s->ce = ce;
	s->fd = fd;
	LIST_PREPEND(socks, ce->socks, s);
	if (curl_multi_assign(ce->multi, fd, s) != CURLM_OK) {
		ce_sock_free(s);
		return -1;
	}
	return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_event *ce = userp;
	int r;

	if (timeout_ms < 0) {
		if (ce->timer)
			(void)sd_event_source_set_enabled(ce->timer, SD_EVENT_OFF);
		return 0;
	}
	/* curl forbids calling socket_action from here: even "now" (0) goes through the loop.
	 * Accuracy 1 µs: sd-event's default (0 = 250 ms) puts every timer on a 250 ms grid, and
	 * curl arms a 0 ms timer for each request, so every Engine API call waited up to 250 ms
	 * (create -> start -> inspect of a triggered container: ~130 ms median, measured). */
	if (!ce->timer) {
		r = sd_event_add_time_relative(ce->event, &ce->timer, CLOCK_MONOTONIC,
					       (uint64_t)timeout_ms * 1000, 1, on_curl_timer, ce);
		if (r < 0)
			return -1;
		(void)sd_event_source_set_description(ce->timer, "curl-timer");
		return 0;
	}
	r = sd_event_source_set_time_relative(ce->timer, (uint64_t)timeout_ms * 1000);
	if (r < 0)
		return -1;
	r = sd_event_source_set_enabled(ce->timer, SD_EVENT_ONESHOT);
	return r < 0 ? -1 : 0;
}

int curl_event_new(sd_event *e, struct curl_event **ret)
{
	struct curl_event *ce;

	ce = calloc(1, sizeof(*ce));
	if (!ce)
		return -ENOMEM;
	ce->event = sd_event_ref(e);
	ce->multi = curl_multi_init();
	if (!ce->multi) {
		ce_destroy(ce);
		return -ENOMEM;
	}
	if (curl_multi_setopt(ce->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb) != CURLM_OK ||
	    curl_multi_setopt(ce->multi, CURLMOPT_SOCKETDATA, ce) != CURLM_OK ||
	    curl_multi_setopt(ce->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb) != CURLM_OK ||
	    curl_multi_setopt(ce->multi, CURLMOPT_TIMERDATA, ce) != CURLM_OK) {
		ce_destroy(ce);
		return -EINVAL;
	}
	*ret = ce;
	return 0;
}

struct curl_event *curl_event_free(struct curl_event *ce)
{
	if (!ce)
		return NULL;
	if (ce->dispatching > 0)
		ce->dead = true;
	else
		ce_destroy(ce);
	return NULL;
}

int curl_event_add(struct curl_event *ce, CURL *easy, curl_event_done_fn done, void *userdata)
{
	struct ce_xfer *x;
	CURLMcode mc;

	assert(done);
	if (ce->dead)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->easy = easy;
	x->done = done;
	x->userdata = userdata;
	if (curl_easy_setopt(easy, CURLOPT_PRIVATE, x) != CURLE_OK) {
		free(x);
		return -EINVAL;
	}
	/* Adding arms the timer callback with 0; the transfer starts from the loop. */
	mc = curl_multi_add_handle(ce->multi, easy);
	if (mc != CURLM_OK) {
		(void)curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(x);
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
	}
	LIST_PREPEND(xfers, ce->xfers, x);
	return 0;
}

void curl_event_remove(struct curl_event *ce, CURL *easy)
{
	struct ce_xfer *x = NULL;

	if (!ce || !easy)
		return;
	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK || !x)
		return;
	(void)curl_multi_remove_handle(ce->multi, easy);
	(void)curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	LIST_REMOVE(xfers, ce->xfers, x);
	free(x);
}
