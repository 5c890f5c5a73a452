/* SPDX-License-Identifier: MIT */
/*
 * resolver.c - getaddrinfo() on a thread, the answer on the loop (see resolver.h)
 *
 * The request is shared by two owners, the loop side and the thread, and counted (an atomic
 * reference count, 2 at start): the thread fills in the answer, writes the eventfd and drops its
 * reference; the loop side drops its own after the callback or at resolve_cancel(). Whoever
 * drops the last one frees the request and closes the eventfd. The thread touches nothing else.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "resolver.h"
#include "sockaddr.h"

struct resolve {
	atomic_int refs;
	int efd;
	sd_event_source *src; /* the loop side's, while it waits */
	resolve_fn cb;
	void *userdata;
	char *host;
	uint16_t port;
	/* written by the thread before the eventfd, read by the loop after it */
	int gai;
	union sockaddr_union sa;
	socklen_t salen;
};

static void resolve_unref(struct resolve *rq)
{
	if (atomic_fetch_sub(&rq->refs, 1) != 1)
		return;
	safe_close(rq->efd);
	free(rq->host);
	free(rq);
}

static void *resolve_thread(void *arg)
{
	struct resolve *rq = arg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *ai;
	char port[8];
	uint64_t one = 1;

	snprintf(port, sizeof(port), "%u", (unsigned)rq->port);
	rq->gai = getaddrinfo(rq->host, port, &hints, &ai);
	if (rq->gai == 0) {
		if (ai && ai->ai_addrlen <= sizeof(rq->sa)) {
			memcpy(&rq->sa, ai->ai_addr, ai->ai_addrlen);
			rq->salen = ai->ai_addrlen;
		} else
			rq->gai = EAI_NONAME;
		freeaddrinfo(ai);
	}
	(void)!write(rq->efd, &one, sizeof(one));
	resolve_unref(rq);
	return NULL;
}

static int on_answer(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct resolve *rq = userdata;

	rq->src = sd_event_source_disable_unref(rq->src);
	if (rq->gai == 0)
		rq->cb(rq->userdata, 0, &rq->sa.sa, rq->salen, NULL);
	else
		rq->cb(rq->userdata, rq->gai == EAI_MEMORY ? -ENOMEM : -EADDRNOTAVAIL, NULL, 0,
		       gai_strerror(rq->gai));
	resolve_unref(rq);
	return 0;
}

int resolve_start(sd_event *e, const char *host, uint16_t port, resolve_fn cb, void *userdata,
		  struct resolve **ret)
{
	struct resolve *rq;
	pthread_attr_t attr;
	pthread_t t;
	int r;

	rq = calloc(1, sizeof(*rq));
	if (!rq)
		return -ENOMEM;
	atomic_init(&rq->refs, 1);
	rq->cb = cb;
	rq->userdata = userdata;
	rq->port = port;
	rq->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rq->host = strdup(host);
	if (rq->efd < 0 || !rq->host) {
		r = rq->efd < 0 ? -errno : -ENOMEM;
		resolve_unref(rq);
		return r;
	}
	r = sd_event_add_io(e, &rq->src, rq->efd, EPOLLIN, on_answer, rq);
	if (r < 0) {
		resolve_unref(rq);
		return r;
	}
	atomic_fetch_add(&rq->refs, 1); /* the thread's */
	r = -pthread_attr_init(&attr);
	if (r == 0) {
		(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		r = -pthread_create(&t, &attr, resolve_thread, rq);
		(void)pthread_attr_destroy(&attr);
	}
	if (r < 0) {
		atomic_fetch_sub(&rq->refs, 1); /* no thread */
		rq->src = sd_event_source_disable_unref(rq->src);
		resolve_unref(rq);
		return r;
	}
	*ret = rq;
	return 0;
}

struct resolve *resolve_cancel(struct resolve *rq)
{
	if (!rq)
		return NULL;
	rq->src = sd_event_source_disable_unref(rq->src);
	resolve_unref(rq);
	return NULL;
}
