/* SPDX-License-Identifier: MIT */
/*
 * connector.c - non-blocking connect, retried with back-off while the target refuses
 *
 * One attempt: a fresh socket from netns_socket() in the tail's namespace, a non-blocking
 * connect(), and for EINPROGRESS an io source waiting for EPOLLOUT, then SO_ERROR. A refusal
 * (ECONNREFUSED; for unix sockets also ENOENT, no socket file yet, and EAGAIN, backlog full)
 * closes the socket and schedules the next attempt after a delay that starts at 20 ms and doubles
 * up to 250 ms, never past the deadline; a refusal at or after the deadline ends with -ETIMEDOUT,
 * as does a connect still in progress when the deadline passes. Every other error ends at once.
 * A single time source serves as the initial kick (so done is never called from connector_new()),
 * the retry delay and the deadline.
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
#include "netns.h"
#include "sockaddr.h"

#define CONNECTOR_DELAY_MIN (20 * 1000ULL)  /* usec */
#define CONNECTOR_DELAY_MAX (250 * 1000ULL) /* usec */

struct connector {
	sd_event *e;
	sd_event_source *timer; /* kick, retry delay, or deadline while a connect is in progress */
	sd_event_source *io;	/* EPOLLOUT while a connect is in progress */
	int fd;
	int nsfd;
	int socktype;
	socklen_t salen;
	union sockaddr_union sa;
	uint64_t deadline; /* CLOCK_MONOTONIC usec */
	uint64_t delay;
	connector_done_fn done;
	void *userdata;
};

static void connector_finish(struct connector *c, int fd_or_error)
{
	c->io = sd_event_source_disable_unref(c->io);
	(void)sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
	c->fd = -EBADF; /* ownership of a connected fd passes to the callback */
	c->done(c, fd_or_error, c->userdata); /* may free c */
}

/* Drops the attempt in progress, then reports @error. */
static void connector_fail(struct connector *c, int error)
{
	c->io = sd_event_source_disable_unref(c->io);
	c->fd = safe_close(c->fd);
	connector_finish(c, error);
}

static bool is_refusal(const struct connector *c, int e)
{
	if (e == ECONNREFUSED)
		return true;
	return c->sa.sa.sa_family == AF_UNIX && (e == ENOENT || e == EAGAIN);
}

static uint64_t now_usec(struct connector *c)
{
	uint64_t t;

	if (sd_event_now(c->e, CLOCK_MONOTONIC, &t) < 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		t = (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
	}
	return t;
}

static int arm_timer(struct connector *c, uint64_t usec)
{
	int r;

	r = sd_event_source_set_time(c->timer, usec);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

/* The target refused: try again later, or give up at the deadline. */
static void connector_refused(struct connector *c)
{
	uint64_t now = now_usec(c), next;
	int r;

	c->io = sd_event_source_disable_unref(c->io);
	c->fd = safe_close(c->fd);
	if (now >= c->deadline) {
		connector_finish(c, -ETIMEDOUT);
		return;
	}
	next = now + c->delay;
	if (next > c->deadline)
		next = c->deadline;
	c->delay = c->delay * 2 > CONNECTOR_DELAY_MAX ? CONNECTOR_DELAY_MAX : c->delay * 2;
	r = arm_timer(c, next);
	if (r < 0)
		connector_finish(c, r);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct connector *c = userdata;
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		connector_finish(c, c->fd);
		return 0;
	}
	if (is_refusal(c, err)) {
		connector_refused(c);
		return 0;
	}
	connector_fail(c, -err);
	return 0;
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
		r = sd_event_add_io(c->e, &c->io, c->fd, EPOLLOUT, on_io, c);
		if (r >= 0)
			r = arm_timer(c, c->deadline); /* a connect that hangs ends there */
		if (r < 0)
			connector_fail(c, r);
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

	if (c->io) {
		/* the deadline passed with the connect still in progress */
		connector_fail(c, -ETIMEDOUT);
		return 0;
	}
	connector_attempt(c);
	return 0;
}

int connector_new(sd_event *e, int nsfd, const struct sockaddr *sa, socklen_t salen, int socktype,
		  uint64_t timeout_usec, connector_done_fn done, void *userdata,
		  struct connector **ret)
{
	struct connector *c;
	uint64_t now;
	int r;

	if (!e || !sa || !done || !ret || salen < sizeof(sa_family_t) ||
	    salen > sizeof(union sockaddr_union) ||
	    (socktype != SOCK_STREAM && socktype != SOCK_DGRAM))
		return -EINVAL;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6 && sa->sa_family != AF_UNIX)
		return -EINVAL;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->e = e;
	c->fd = -EBADF;
	c->nsfd = nsfd;
	c->socktype = socktype;
	c->salen = salen;
	memcpy(&c->sa, sa, salen);
	c->delay = CONNECTOR_DELAY_MIN;
	c->done = done;
	c->userdata = userdata;
	r = sd_event_now(e, CLOCK_MONOTONIC, &now);
	if (r < 0) {
		free(c);
		return r;
	}
	c->deadline = timeout_usec > UINT64_MAX - now ? UINT64_MAX : now + timeout_usec;
	/* The first attempt runs from the loop, so done is never called from here. */
	r = sd_event_add_time(e, &c->timer, CLOCK_MONOTONIC, 0, 1, on_timer, c);
	if (r < 0) {
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

struct connector *connector_free(struct connector *c)
{
	if (!c)
		return NULL;
	c->io = sd_event_source_disable_unref(c->io);
	c->timer = sd_event_source_disable_unref(c->timer);
	c->fd = safe_close(c->fd);
	free(c);
	return NULL;
}
