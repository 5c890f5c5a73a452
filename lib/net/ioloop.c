/* SPDX-License-Identifier: MIT */
/*
 * ioloop.c - one inner epoll set for the data path, a batch of events per sd-event wakeup
 *
 * Theory of operation. The inner epoll fd is one EPOLLIN io source on the sd-event loop (level-
 * triggered there: it stays readable while the inner set has ready fds). Its handler harvests up to
 * IOLOOP_BATCH events with epoll_wait(..., 0), hands each to the watch registered for its fd, then
 * runs the watches that were on the deferred list when the batch began, and returns to sd-event so
 * timers, listeners and the control socket get their turn. A second source, an sd-event defer
 * source, is on while the deferred list is not empty, so deferred work runs even when no socket
 * is ready; it runs the deferred list only.
 *
 * epoll_event.data carries the fd and a generation (u64 = gen << 32 | fd). The table, indexed by
 * fd, holds each fd's watch and current generation; ioloop_add(), ioloop_forget() and
 * ioloop_close() bump the generation, so an event harvested in the same batch for an fd whose
 * watch has gone, or whose number now belongs to another socket, no longer matches and is dropped.
 * The table also remembers whether the kernel still has the fd registered, so ioloop_add() knows
 * ADD from MOD without asking (and falls back to the other on ENOENT/EEXIST, e.g. for an fd that
 * was forgotten and then closed by its new owner). A connector hands its connected socket to the
 * relay with ioloop_release() + ioloop_adopt(): both register the same events, and when the
 * connector consumed nothing but EPOLLOUT, the relay keeps the kernel registration (and its
 * generation) as it is, which saves one epoll_ctl() per connection. "Same round" (the counter
 * moves after every dispatch) keeps a stale offer from being taken by an unrelated fd later.
 *
 * The deferred list is intrusive (the watch carries its links), and the batch takes the whole list
 * onto a private "running" list first: a watch deferred again while it runs waits for the next
 * round (fairness), and ioloop_cancel() unlinks from whichever list the watch is on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cleanup.h"
#include "ioloop.h"

#define IOLOOP_BATCH 256

struct ioloop_slot {
	struct ioloop_watch *w;
	uint32_t gen;
	uint32_t events;	/* as registered */
	uint32_t release_round; /* when ioloop_release() offered it */
	bool registered;	/* the kernel has it (as far as we know) */
	bool adoptable;		/* offered by ioloop_release() */
};

struct ioloop {
	sd_event *event;
	sd_event_source *io;
	sd_event_source *defer;
	int epfd;
	bool defer_on;
	uint32_t round; /* dispatch rounds, for ioloop_adopt() */
	struct ioloop_slot *slots;
	unsigned n_slots;
	struct ioloop_watch *deferred;
	struct ioloop_watch *running;
	struct epoll_event events[IOLOOP_BATCH];
};

static void list_push(struct ioloop_watch **head, struct ioloop_watch *w)
{
	w->next = *head;
	if (w->next)
		w->next->pprev = &w->next;
	w->pprev = head;
	*head = w;
}

void ioloop_cancel(struct ioloop_watch *w)
{
	if (!w || !w->pprev)
		return;
	*w->pprev = w->next;
	if (w->next)
		w->next->pprev = w->pprev;
	w->next = NULL;
	w->pprev = NULL;
}

static void run_deferred(struct ioloop *l)
{
	struct ioloop_watch *w;

	/* What is deferred from now on waits for the next round. */
	l->running = l->deferred;
	if (l->running)
		l->running->pprev = &l->running;
	l->deferred = NULL;
	while ((w = l->running)) {
		ioloop_cancel(w);
		w->fn(w, -1, 0);
	}
	if (!l->deferred && l->defer_on) {
		(void)sd_event_source_set_enabled(l->defer, SD_EVENT_OFF);
		l->defer_on = false;
	}
	l->round++;
}

static int on_defer(sd_event_source *s, void *userdata)
{
	struct ioloop *l = userdata;

	l->defer_on = false; /* ONESHOT */
	run_deferred(l);
	return 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct ioloop *l = userdata;
	int n;

	n = epoll_wait(l->epfd, l->events, IOLOOP_BATCH, 0);
	for (int i = 0; i < n; i++) {
		uint64_t u = l->events[i].data.u64;
		unsigned efd = (uint32_t)u;
		struct ioloop_slot *slot;

		if (efd >= l->n_slots)
			continue;
		slot = &l->slots[efd];
		if (!slot->w || slot->gen != (uint32_t)(u >> 32))
			continue; /* forgotten, or the fd is someone else's now */
		slot->w->fn(slot->w, (int)efd, l->events[i].events);
	}
	run_deferred(l);
	return 0;
}

int ioloop_new(sd_event *e, struct ioloop **ret)
{
	struct ioloop *l;
	int r;

	if (!e || !ret)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->event = sd_event_ref(e);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		r = -errno;
		goto fail;
	}
	r = sd_event_add_io(e, &l->io, l->epfd, EPOLLIN, on_io, l);
	if (r < 0)
		goto fail;
	r = sd_event_add_defer(e, &l->defer, on_defer, l);
	if (r < 0)
		goto fail;
	r = sd_event_source_set_enabled(l->defer, SD_EVENT_OFF);
	if (r < 0)
		goto fail;
	*ret = l;
	return 0;
fail:
	ioloop_free(l);
	return r;
}

struct ioloop *ioloop_free(struct ioloop *l)
{
	if (!l)
		return NULL;
	l->io = sd_event_source_disable_unref(l->io);
	l->defer = sd_event_source_disable_unref(l->defer);
	l->epfd = safe_close(l->epfd);
	l->event = sd_event_unref(l->event);
	free(l->slots);
	free(l);
	return NULL;
}

sd_event *ioloop_event(const struct ioloop *l)
{
	return l->event;
}

static int slots_reserve(struct ioloop *l, unsigned fd)
{
	struct ioloop_slot *s;
	unsigned n;

	if (fd < l->n_slots)
		return 0;
	n = l->n_slots ? l->n_slots : 256;
	while (n <= fd)
		n *= 2;
	s = reallocarray(l->slots, n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + l->n_slots, 0, (n - l->n_slots) * sizeof(*s));
	l->slots = s;
	l->n_slots = n;
	return 0;
}

int ioloop_add(struct ioloop *l, int fd, uint32_t events, struct ioloop_watch *w)
{
	struct epoll_event ev = { .events = events };
	struct ioloop_slot *slot;
	int op, r;

	if (fd < 0 || !w || !w->fn)
		return -EINVAL;
	r = slots_reserve(l, (unsigned)fd);
	if (r < 0)
		return r;
	slot = &l->slots[fd];
	ev.data.u64 = (uint64_t)(slot->gen + 1) << 32 | (uint32_t)fd;
	op = slot->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(l->epfd, op, fd, &ev) < 0) {
		if (errno != ENOENT && errno != EEXIST)
			return -errno;
		op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
		if (epoll_ctl(l->epfd, op, fd, &ev) < 0)
			return -errno;
	}
	slot->gen++;
	slot->w = w;
	slot->events = events;
	slot->registered = true;
	slot->adoptable = false;
	return 0;
}

void ioloop_forget(struct ioloop *l, int fd)
{
	if (fd < 0 || (unsigned)fd >= l->n_slots)
		return;
	l->slots[fd].w = NULL;
	l->slots[fd].gen++;
	l->slots[fd].adoptable = false;
}

void ioloop_release(struct ioloop *l, int fd, uint32_t seen)
{
	struct ioloop_slot *slot;

	if (fd < 0 || (unsigned)fd >= l->n_slots)
		return;
	slot = &l->slots[fd];
	slot->w = NULL;
	slot->adoptable = slot->registered && !(seen & ~(uint32_t)EPOLLOUT);
	slot->release_round = l->round;
	if (!slot->adoptable)
		slot->gen++;
}

int ioloop_adopt(struct ioloop *l, int fd, uint32_t events, struct ioloop_watch *w)
{
	struct ioloop_slot *slot;

	if (fd >= 0 && (unsigned)fd < l->n_slots && w && w->fn) {
		slot = &l->slots[fd];
		if (slot->adoptable && !slot->w && slot->registered && slot->events == events &&
		    slot->release_round == l->round) {
			/* same kernel registration, same data (fd, generation): just a new owner */
			slot->adoptable = false;
			slot->w = w;
			return 0;
		}
	}
	return ioloop_add(l, fd, events, w);
}

int ioloop_close(struct ioloop *l, int fd)
{
	if (fd < 0)
		return -EBADF;
	ioloop_forget(l, fd);
	if ((unsigned)fd < l->n_slots)
		l->slots[fd].registered = false;
	return safe_close(fd);
}

void ioloop_defer(struct ioloop *l, struct ioloop_watch *w)
{
	if (w->pprev) /* deferred already (or running: then it is due now anyway) */
		return;
	list_push(&l->deferred, w);
	if (!l->defer_on) {
		if (sd_event_source_set_enabled(l->defer, SD_EVENT_ONESHOT) >= 0)
			l->defer_on = true;
	}
}
