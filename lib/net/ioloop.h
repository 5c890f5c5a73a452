/* SPDX-License-Identifier: MIT */
/*
 * ioloop.h - the data path's own epoll set, dispatched a whole batch per sd-event wakeup
 *
 * sd-event dispatches one source per loop iteration and polls its epoll set before each one, so
 * with many busy sockets every relayed message would re-poll every ready socket. The data path
 * (relays, connectors) instead registers its sockets in one inner epoll set, which is a single io
 * source on the sd-event loop; one wakeup harvests up to 256 events and hands each to its watch.
 * Sockets are normally registered edge-triggered (EPOLLET), so a socket drained to EAGAIN is not
 * reported again until something new happens; work that stops early on purpose (a byte budget)
 * goes on the deferred list instead, which runs once per loop iteration after the batch, through
 * an sd-event defer source that is on only while the list is not empty.
 *
 * The fd is the key: each registered fd has one watch, and an event harvested for an fd whose
 * watch was forgotten or replaced since (ioloop_forget(), ioloop_close(), ioloop_add()) is
 * dropped, so a handler may free anything, including other watches, in the middle of a batch.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include <systemd/sd-event.h>

/* What a stream socket of the data path is registered for (the relay's set). A connector
 * registers its connecting socket with it too, so the relay can adopt it without a syscall. */
#define IOLOOP_STREAM_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

struct ioloop;
struct ioloop_watch;

/**
 * ioloop_fn - a watch's handler
 * @w:		the watch
 * @fd:		the fd the event is for, or -1 when called from the deferred list
 * @revents:	the epoll events, 0 from the deferred list
 *
 * May free the watch's owner (after ioloop_close()/ioloop_forget() of its fds and
 * ioloop_cancel() of the watch, which its destructor does anyway).
 */
typedef void (*ioloop_fn)(struct ioloop_watch *w, int fd, uint32_t revents);

/* Embedded in its owner; set fn before use, all else zero. */
struct ioloop_watch {
	ioloop_fn fn;
	struct ioloop_watch *next;   /* on the deferred (or running) list */
	struct ioloop_watch **pprev; /* NULL when on no list */
};

/**
 * ioloop_new() - Create the inner epoll set and attach it to @e
 * @e:		event loop (a reference is taken)
 * @ret:	the loop on success only
 *
 * Return: 0, -ENOMEM, or a negative errno from epoll_create1() or sd-event
 */
int ioloop_new(sd_event *e, struct ioloop **ret);

/**
 * ioloop_free() - Close the epoll set, detach from sd-event (NULL is fine). Return: NULL
 * No watch may still use @l.
 */
struct ioloop *ioloop_free(struct ioloop *l);

/**
 * ioloop_event() - Return: the sd-event loop @l runs on (borrowed)
 */
sd_event *ioloop_event(const struct ioloop *l);

/**
 * ioloop_add() - Register @fd for @events with watch @w, or change both if already registered
 * @events:	EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLET, ...
 *
 * Events harvested earlier for @fd but not yet handed out are dropped.
 *
 * Return: 0, -ENOMEM, or a negative errno from epoll_ctl()
 */
int ioloop_add(struct ioloop *l, int fd, uint32_t events, struct ioloop_watch *w);

/**
 * ioloop_forget() - Stop handing @fd's events to its watch, without a syscall
 *
 * The kernel registration stays until @fd is closed (close() removes it) or ioloop_add() replaces
 * it; this is how a connected socket passes from the connector to the relay with one
 * EPOLL_CTL_MOD instead of DEL and ADD. Harvested events not yet handed out are dropped.
 */
void ioloop_forget(struct ioloop *l, int fd);

/**
 * ioloop_release() - ioloop_forget() @fd, but offer its registration to ioloop_adopt()
 * @seen:	the events the releasing watch took from @fd's last report
 *
 * The next owner may take the kernel registration over as it is, without a syscall, if it adopts
 * @fd in the same dispatch round with the same events and @seen holds nothing a reader would
 * miss (EPOLLOUT only): with edge triggering, an edge already consumed would not come again.
 */
void ioloop_release(struct ioloop *l, int fd, uint32_t seen);

/**
 * ioloop_adopt() - ioloop_add() for an fd straight from ioloop_release()
 *
 * Takes the released registration over without a syscall when ioloop_release() allowed it, in
 * this dispatch round, for the same @events; otherwise it is ioloop_add() (whose EPOLL_CTL_MOD
 * re-polls, so nothing is lost). Only for fds handed over directly from the releasing watch: a
 * released fd closed with plain close() and its number reused in the same round would look the
 * same.
 *
 * Return: as ioloop_add()
 */
int ioloop_adopt(struct ioloop *l, int fd, uint32_t events, struct ioloop_watch *w);

/**
 * ioloop_close() - ioloop_forget() @fd, then close it. Return: -EBADF (fd = ioloop_close(l, fd))
 * A negative @fd is fine. Relies on the fd not being duplicated (the daemon never forks while
 * running), so close() takes it out of the epoll set.
 */
int ioloop_close(struct ioloop *l, int fd);

/**
 * ioloop_defer() - Call @w->fn(@w, -1, 0) from the loop, once, after the current batch
 * Deferring a watch already deferred does nothing.
 */
void ioloop_defer(struct ioloop *l, struct ioloop_watch *w);

/**
 * ioloop_cancel() - Take @w off the deferred list (if it is on it)
 */
void ioloop_cancel(struct ioloop_watch *w);
