/* SPDX-License-Identifier: MIT */
/*
 * connector.c - non-blocking connect, retried with back-off while the target refuses
 *
 * One attempt: a fresh socket from netns_socket() in the tail's namespace and a non-blocking
 * connect(), tried at once from connector_new(). For EINPROGRESS the socket joins the data path's
 * ioloop, edge-triggered with the relay's events (IOLOOP_STREAM_EVENTS), and a deadline timer is
 * armed; EPOLLOUT without EPOLLERR/EPOLLHUP means connected (no getsockopt()), an error is read
 * with SO_ERROR. The connected socket is handed over still registered (ioloop_release()), so the
 * relay adopts it without a syscall, or with one EPOLL_CTL_MOD if data came with the connect. A
 * connect that completes (or fails) at once, which unix and UDP sockets do, is reported from the
 * ioloop's deferred list, so done is never called from connector_new(). A refusal (ECONNREFUSED;
 * for unix sockets also ENOENT, no socket file yet, and EAGAIN, backlog full) closes the socket
 * and schedules the next attempt after a delay that starts at 20 ms and doubles up to 250 ms,
 * never past the deadline; a refusal at or after the deadline ends with -ETIMEDOUT, as does a
 * connect still in progress when the deadline passes. Every other error ends at once. One time
 * source, created only when first needed, serves as the retry delay and the deadline.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "cleanup.h"
#include "connector.h"
#include "ioloop.h"
#include "netns.h"
#include "sockaddr.h"
#include "time-util.h"

#define CONNECTOR_DELAY_MIN (20 * 1000ULL)  /* usec */
#define CONNECTOR_DELAY_MAX (250 * 1000ULL) /* usec */
#define CONNECTOR_ACCURACY  (1000ULL)	    /* usec, for retries */

struct connector {
	struct ioloop_watch w; /* first: the watch is the connector */
	struct ioloop *loop;
	sd_event_source *timer; /* retry delay, or the deadline while a connect is in progress */
	int fd;
	int nsfd;
	int socktype;
	int result;	  /* what the deferred report delivers: an fd we own, or a negative errno */
	bool has_result;  /* result is set and not delivered yet */
	bool starting;	  /* inside connector_new(): report from the loop */
	bool in_progress; /* fd is connecting, registered in the ioloop */
	bool no_retry;	  /* CONNECTOR_NO_RETRY: a refusal ends it with -ECONNREFUSED */
	socklen_t salen;
	union sockaddr_union sa;
	uint64_t deadline; /* CLOCK_MONOTONIC usec */
	uint64_t deadline_accuracy;
	uint64_t delay;
	connector_done_fn done;
	void *userdata;
};

/* Reports the outcome (now, or from the loop while in connector_new()); c->fd is not ours after. */
static void connector_finish(struct connector *c, int fd_or_error)
{
	c->in_progress = false;
	c->fd = -EBADF; /* ownership of a connected fd passes to the callback */
	if (c->timer)
		(void)sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
	if (c->starting) {
		c->result = fd_or_error;
		c->has_result = true;
		ioloop_defer(c->loop, &c->w);
		return;
	}
	c->done(c, fd_or_error, c->userdata); /* may free c */
}

/* Drops the attempt in progress, then reports @error. */
static void connector_fail(struct connector *c, int error)
{
	c->fd = ioloop_close(c->loop, c->fd);
	connector_finish(c, error);
}

static bool is_refusal(const struct connector *c, int e)
{
	if (e == ECONNREFUSED)
		return true;
	return c->sa.sa.sa_family == AF_UNIX && (e == ENOENT || e == EAGAIN);
}

/* The loop's time of this iteration (what sd-event timers compare with), the clock if none. */
static uint64_t loop_now_usec(struct connector *c)
{
	uint64_t t;

	if (sd_event_now(ioloop_event(c->loop), CLOCK_MONOTONIC, &t) < 0)
		t = now_usec();
	return t;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static int arm_timer(struct connector *c, uint64_t usec, uint64_t accuracy)
{
	int r;

	if (!c->timer)
		return sd_event_add_time(ioloop_event(c->loop), &c->timer, CLOCK_MONOTONIC, usec,
					 accuracy, on_timer, c);
	r = sd_event_source_set_time(c->timer, usec);
	if (r >= 0)
		r = sd_event_source_set_time_accuracy(c->timer, accuracy);
	if (r >= 0)
		r = sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
	return r;
}

/* The target refused: try again later, or give up at the deadline. */
static void connector_refused(struct connector *c)
{
	uint64_t now = loop_now_usec(c), next;
	int r;

	c->in_progress = false;
	c->fd = ioloop_close(c->loop, c->fd);
	if (c->no_retry) {
		connector_finish(c, -ECONNREFUSED);
		return;
	}
	if (now >= c->deadline) {
		connector_finish(c, -ETIMEDOUT);
		return;
	}
	next = now + c->delay;
	if (next > c->deadline)
		next = c->deadline;
	c->delay = c->delay * 2 > CONNECTOR_DELAY_MAX ? CONNECTOR_DELAY_MAX : c->delay * 2;
	r = arm_timer(c, next, CONNECTOR_ACCURACY);
	if (r < 0)
		connector_finish(c, r);
}

static void on_event(struct ioloop_watch *w, int fd, uint32_t revents)
{
	struct connector *c = (struct connector *)w;
	socklen_t len = sizeof(int);
	int err = 0;

	if (fd < 0) {
		/* deferred: the outcome of an attempt made inside connector_new() */
		if (c->has_result) {
			c->has_result = false;
			c->done(c, c->result, c->userdata); /* may free c */
		}
		return;
	}
	if (fd != c->fd || !c->in_progress)
		return;
	/* EPOLLOUT alone: connected. An error shows as EPOLLERR (and HUP); read which one. */
	if ((revents & (EPOLLERR | EPOLLHUP)) &&
	    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		/* a connecting TCP socket reports nothing at all: any event means established */
		ioloop_release(c->loop, c->fd, revents); /* stays registered: for the relay */
		connector_finish(c, c->fd);
		return;
	}
	if (is_refusal(c, err)) {
		connector_refused(c);
		return;
	}
	connector_fail(c, -err);
}

static void connector_attempt(struct connector *c)
{
	int r;

	r = netns_socket(c->nsfd, c->sa.sa.sa_family, c->socktype | SOCK_NONBLOCK, 0);
	if (r < 0) {
		connector_finish(c, r);
		return;
	}
	c->fd = r;
	if (connect(c->fd, &c->sa.sa, c->salen) == 0) {
		connector_finish(c, c->fd);
		return;
	}
	if (errno == EINPROGRESS) {
		r = ioloop_add(c->loop, c->fd, IOLOOP_STREAM_EVENTS, &c->w);
		if (r >= 0) /* a connect that hangs ends there */
			r = arm_timer(c, c->deadline, c->deadline_accuracy);
		if (r < 0) {
			connector_fail(c, r);
			return;
		}
		c->in_progress = true;
		return;
	}
	if (is_refusal(c, errno)) {
		connector_refused(c);
		return;
	}
	connector_fail(c, -errno);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct connector *c = userdata;

	if (c->in_progress) {
		/* the deadline passed with the connect still in progress */
		connector_fail(c, -ETIMEDOUT);
		return 0;
	}
	connector_attempt(c);
	return 0;
}

int connector_new(struct ioloop *l, int nsfd, const struct sockaddr *sa, socklen_t salen,
		  int socktype, uint64_t timeout_usec, connector_done_fn done, void *userdata,
		  struct connector **ret)
{
	return connector_new_flags(l, nsfd, sa, salen, socktype, timeout_usec, 0, done, userdata,
				   ret);
}

int connector_new_flags(struct ioloop *l, int nsfd, const struct sockaddr *sa, socklen_t salen,
			int socktype, uint64_t timeout_usec, unsigned flags, connector_done_fn done,
			void *userdata, struct connector **ret)
{
	struct connector *c;
	uint64_t now;
	int r;

	if (!l || !sa || !done || !ret || salen < sizeof(sa_family_t) ||
	    salen > sizeof(union sockaddr_union) ||
	    (socktype != SOCK_STREAM && socktype != SOCK_DGRAM))
		return -EINVAL;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6 && sa->sa_family != AF_UNIX)
		return -EINVAL;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->w.fn = on_event;
	c->loop = l;
	c->fd = -EBADF;
	c->nsfd = nsfd;
	c->socktype = socktype;
	c->no_retry = flags & CONNECTOR_NO_RETRY;
	c->salen = salen;
	memcpy(&c->sa, sa, salen);
	c->delay = CONNECTOR_DELAY_MIN;
	c->done = done;
	c->userdata = userdata;
	r = sd_event_now(ioloop_event(l), CLOCK_MONOTONIC, &now);
	if (r < 0) {
		free(c);
		return r;
	}
	c->deadline = timeout_usec > UINT64_MAX - now ? UINT64_MAX : now + timeout_usec;
	/* Only a connect that hangs meets the deadline: a coarse timer is enough, and lets sd-event
	 * keep its timerfd armed as it is while connections come and go. */
	c->deadline_accuracy = timeout_usec / 16;
	if (c->deadline_accuracy > 1000000ULL)
		c->deadline_accuracy = 1000000ULL;
	if (c->deadline_accuracy < CONNECTOR_ACCURACY)
		c->deadline_accuracy = CONNECTOR_ACCURACY;
	c->starting = true;
	connector_attempt(c);
	c->starting = false;
	*ret = c;
	return 0;
}

struct connector *connector_free(struct connector *c)
{
	if (!c)
		return NULL;
	ioloop_cancel(&c->w);
	c->timer = sd_event_source_disable_unref(c->timer);
	c->fd = ioloop_close(c->loop, c->fd);
	if (c->has_result && c->result >= 0)
		(void)safe_close(c->result);
	free(c);
	return NULL;
}
