/* SPDX-License-Identifier: MIT */
/*
 * resolve.c - getaddrinfo() on a thread, the answer on the loop (resolve.h)
 *
 * A query has two owners, the loop side and its thread, counted in refs (atomic): the thread
 * drops its ref after it wrote the answer into the query and signalled the eventfd; the loop
 * side drops its ref after the callback, or at resolve_cancel(). The last one frees the query
 * (and closes the eventfd), so a cancelled query whose thread still waits on DNS is freed by that
 * thread later, and nothing the loop owns is touched by the thread.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "resolve.h"

struct resolve_query {
	int refs; /* atomic */
	int efd;
	sd_event_source *io;
	resolve_fn cb;
	void *userdata;
	char *host;
	char port[8];
	/* written by the thread before it signals */
	int gai;
	union sockaddr_union sa;
	socklen_t len;
};

static void query_unref(struct resolve_query *q)
{
	if (__atomic_sub_fetch(&q->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (q->efd >= 0)
		close(q->efd);
	free(q->host);
	free(q);
}

static void *resolve_thread(void *arg)
{
	struct resolve_query *q = arg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *ai = NULL;
	uint64_t one = 1;

	q->gai = getaddrinfo(q->host, q->port, &hints, &ai);
	if (q->gai == 0 && ai && ai->ai_addrlen <= sizeof(q->sa)) {
		memcpy(&q->sa, ai->ai_addr, ai->ai_addrlen);
		q->len = ai->ai_addrlen;
	}
	if (ai)
		freeaddrinfo(ai);
	(void)!write(q->efd, &one, sizeof(one));
	query_unref(q);
	return NULL;
}

static int on_answer(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct resolve_query *q = userdata;
	resolve_fn cb = q->cb;
	void *ud = q->userdata;
	union sockaddr_union sa = q->sa;
	socklen_t len = q->len;
	int gai = q->gai;

	q->io = sd_event_source_disable_unref(q->io);
	q->cb = NULL;
	query_unref(q); /* the loop side's ref: the query is gone before the callback */
	if (gai == 0 && len > 0)
		cb(ud, 0, &sa.sa, len, NULL);
	else
		cb(ud, gai == EAI_MEMORY ? -ENOMEM : -EADDRNOTAVAIL, NULL, 0,
		   gai ? gai_strerror(gai) : "no address");
	return 0;
}

int resolve_numeric(const char *host, uint16_t port, union sockaddr_union *ret, socklen_t *ret_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char portstr[8];

	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai)
		return -EINVAL;
	if (ai->ai_addrlen > sizeof(*ret)) {
		freeaddrinfo(ai);
		return -EINVAL;
	}
	memcpy(ret, ai->ai_addr, ai->ai_addrlen);
	*ret_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int resolve_start(sd_event *e, const char *host, uint16_t port, resolve_fn cb, void *userdata,
		  struct resolve_query **ret)
{
	struct resolve_query *q;
	pthread_attr_t attr;
	pthread_t t;
	int r;

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->refs = 1;
	q->cb = cb;
	q->userdata = userdata;
	snprintf(q->port, sizeof(q->port), "%u", (unsigned)port);
	q->host = strdup(host);
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!q->host || q->efd < 0) {
		r = q->host ? -errno : -ENOMEM;
		query_unref(q);
		return r;
	}
	r = sd_event_add_io(e, &q->io, q->efd, EPOLLIN, on_answer, q);
	if (r < 0) {
		query_unref(q);
		return r;
	}
	q->refs = 2; /* the thread's, from here on */
	r = -pthread_attr_init(&attr);
	if (r == 0) {
		(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		r = -pthread_create(&t, &attr, resolve_thread, q);
		(void)pthread_attr_destroy(&attr);
	}
	if (r < 0) {
		q->refs = 1;
		q->io = sd_event_source_disable_unref(q->io);
		query_unref(q);
		return r;
	}
	*ret = q;
	return 0;
}

struct resolve_query *resolve_cancel(struct resolve_query *q)
{
	if (!q)
		return NULL;
	q->cb = NULL;
	q->io = sd_event_source_disable_unref(q->io);
	query_unref(q);
	return NULL;
}
