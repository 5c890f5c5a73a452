/* SPDX-License-Identifier: MIT */
/*
 * test-ioloop.c - the data path's inner epoll set, on real socketpairs and a real sd-event loop
 *
 * Checks what the relay and the connector rely on: a whole batch handed out per wakeup, edge
 * triggering passed through, stale events dropped after a watch is forgotten or its fd closed in
 * the middle of a batch, a registered fd handed to another watch, and the deferred list (runs
 * without socket activity, once per round, cancellable).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "ioloop.h"

DEFINE_POINTER_CLEANUP(struct ioloop *, ioloop_free)

struct counter {
	struct ioloop_watch w; /* first */
	struct ioloop *l;
	unsigned calls;
	unsigned deferred_calls;
	int last_fd;
	uint32_t last_events;
	int *close_on_call; /* an fd to ioloop_close() from the handler */
	bool defer_again;
};

static void on_count(struct ioloop_watch *w, int fd, uint32_t revents)
{
	struct counter *c = (struct counter *)w;

	if (fd < 0) {
		c->deferred_calls++;
		if (c->defer_again)
			ioloop_defer(c->l, &c->w);
		return;
	}
	c->calls++;
	c->last_fd = fd;
	c->last_events = revents;
	if (c->close_on_call && *c->close_on_call >= 0)
		*c->close_on_call = ioloop_close(c->l, *c->close_on_call);
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
}

/* Runs the loop until it has nothing to dispatch; returns how many dispatches it made. */
static unsigned run_idle(sd_event *e)
{
	unsigned n = 0;
	int r;

	while ((r = sd_event_run(e, 20 * 1000)) > 0)
		n++;
	assert_int_equal(r, 0);
	return n;
}

/* 300 ready sockets (more than one batch of 256): each reported once, in two io dispatches. */
static void test_batch_and_edge_triggered(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *l = NULL;
	enum { N = 300 };
	static struct counter c[N];
	int sv[N][2];

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &l), 0);
	for (unsigned i = 0; i < N; i++) {
		pair(sv[i]);
		c[i] = (struct counter){ .w.fn = on_count, .l = l, .last_fd = -1 };
		assert_int_equal(ioloop_add(l, sv[i][0], EPOLLIN | EPOLLRDHUP | EPOLLET, &c[i].w),
				 0);
		assert_int_equal(write(sv[i][1], "x", 1), 1);
	}
	/* two batches: 256 + 44 events, each one sd-event dispatch of the inner epoll fd */
	assert_int_equal(run_idle(e), 2);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(c[i].calls, 1);
		assert_int_equal(c[i].last_fd, sv[i][0]);
		assert_true(c[i].last_events & EPOLLIN);
	}
	/* nothing was read, but edge triggering reports only what is new */
	assert_int_equal(run_idle(e), 0);
	assert_int_equal(write(sv[7][1], "y", 1), 1);
	assert_int_equal(run_idle(e), 1);
	assert_int_equal(c[7].calls, 2);
	/* EOF is an edge too */
	close(sv[9][1]);
	assert_int_equal(run_idle(e), 1);
	assert_int_equal(c[9].calls, 2);
	assert_true(c[9].last_events & EPOLLRDHUP);
	sv[9][1] = -EBADF;
	for (unsigned i = 0; i < N; i++) {
		sv[i][0] = ioloop_close(l, sv[i][0]);
		safe_close(sv[i][1]);
	}
}

/* A handler that closes another registered fd in the middle of a batch: its event is dropped,
 * even when the fd number is reused at once by a new registration. */
static void test_close_in_batch(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *l = NULL;
	struct counter a = {}, b = {};
	int sa[2], sb[2];

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &l), 0);
	pair(sa);
	pair(sb);
	a = (struct counter){ .w.fn = on_count, .l = l, .close_on_call = &sb[0] };
	b = (struct counter){ .w.fn = on_count, .l = l, .close_on_call = &sa[0] };
	assert_int_equal(ioloop_add(l, sa[0], EPOLLIN | EPOLLET, &a.w), 0);
	assert_int_equal(ioloop_add(l, sb[0], EPOLLIN | EPOLLET, &b.w), 0);
	assert_int_equal(write(sa[1], "x", 1), 1);
	assert_int_equal(write(sb[1], "x", 1), 1);
	assert_int_equal(run_idle(e), 1);
	/* whichever ran first closed the other, whose event (same batch) was dropped */
	assert_int_equal(a.calls + b.calls, 1);
	assert_true(sa[0] < 0 || sb[0] < 0);
	sa[0] = ioloop_close(l, sa[0]);
	sb[0] = ioloop_close(l, sb[0]);
	safe_close(sa[1]);
	safe_close(sb[1]);
}

/* An fd passes from one watch to another: forget, then add with the new watch (EPOLL_CTL_MOD). */
static void test_handover(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *l = NULL;
	struct counter a = {}, b = {};
	int sv[2], fd;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &l), 0);
	pair(sv);
	a = (struct counter){ .w.fn = on_count, .l = l };
	b = (struct counter){ .w.fn = on_count, .l = l };
	assert_int_equal(ioloop_add(l, sv[0], EPOLLOUT | EPOLLET, &a.w), 0);
	assert_int_equal(run_idle(e), 1); /* writable at once */
	assert_int_equal(a.calls, 1);
	ioloop_forget(l, sv[0]);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(run_idle(e), 0); /* the kernel knows only EPOLLOUT, and nobody listens */
	/* MOD re-polls: the byte already there is reported to the new watch */
	assert_int_equal(ioloop_add(l, sv[0], EPOLLIN | EPOLLET, &b.w), 0);
	assert_int_equal(run_idle(e), 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);

	/* forgotten and closed by its new owner with plain close(): the number's next socket is
	 * added all the same (MOD fails with ENOENT, ADD follows) */
	ioloop_forget(l, sv[0]);
	close(sv[0]);
	close(sv[1]);
	pair(sv);
	fd = sv[0];
	assert_int_equal(ioloop_add(l, fd, EPOLLIN | EPOLLET, &a.w), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(run_idle(e), 1);
	assert_int_equal(a.calls, 2);
	assert_int_equal(a.last_fd, fd);
	sv[0] = ioloop_close(l, sv[0]);
	close(sv[1]);
}

/* The connector -> relay handover: release, then adopt (no syscall when only EPOLLOUT was seen). */
static void test_release_adopt(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *l = NULL;
	struct counter a = {}, b = {}, c = {};
	char buf[8];
	int sv[2], fd;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &l), 0);
	pair(sv);
	a = (struct counter){ .w.fn = on_count, .l = l };
	b = (struct counter){ .w.fn = on_count, .l = l };
	c = (struct counter){ .w.fn = on_count, .l = l };
	assert_int_equal(ioloop_add(l, sv[0], IOLOOP_STREAM_EVENTS, &a.w), 0);
	assert_int_equal(run_idle(e), 1);
	assert_int_equal(a.last_events & (EPOLLIN | EPOLLOUT), EPOLLOUT);

	/* only EPOLLOUT seen: adopted as is; what comes next goes to the new owner */
	ioloop_release(l, sv[0], a.last_events);
	assert_int_equal(ioloop_adopt(l, sv[0], IOLOOP_STREAM_EVENTS, &b.w), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(run_idle(e), 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_true(b.last_events & EPOLLIN);

	/* EPOLLIN seen (and not read): the adopter re-registers and is told about the byte */
	ioloop_release(l, sv[0], b.last_events);
	assert_int_equal(ioloop_adopt(l, sv[0], IOLOOP_STREAM_EVENTS, &c.w), 0);
	assert_int_equal(run_idle(e), 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(c.calls, 1);
	assert_true(c.last_events & EPOLLIN);
	assert_int_equal(read(sv[0], buf, sizeof(buf)), 1);

	/* an offer not taken in its round lapses: adopting later is a plain (re-polling) add */
	ioloop_release(l, sv[0], EPOLLOUT);
	ioloop_defer(l, &a.w);
	assert_int_equal(run_idle(e), 1);
	assert_int_equal(write(sv[1], "y", 1), 1);
	assert_int_equal(ioloop_adopt(l, sv[0], IOLOOP_STREAM_EVENTS, &b.w), 0);
	assert_int_equal(run_idle(e), 1);
	assert_int_equal(b.calls, 2);
	assert_int_equal(c.calls, 1);

	/* an offer whose fd was closed plainly: the number's next socket, added by its owner, is
	 * registered for real */
	ioloop_release(l, sv[0], EPOLLOUT);
	close(sv[0]);
	close(sv[1]);
	pair(sv);
	fd = sv[0];
	assert_int_equal(ioloop_add(l, fd, IOLOOP_STREAM_EVENTS, &c.w), 0);
	assert_int_equal(run_idle(e), 1); /* writable */
	assert_int_equal(write(sv[1], "z", 1), 1);
	assert_int_equal(run_idle(e), 1);
	assert_int_equal(c.calls, 3);
	assert_true(c.last_events & EPOLLIN);
	sv[0] = ioloop_close(l, sv[0]);
	close(sv[1]);
}

static void test_defer(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *l = NULL;
	struct counter a = {}, b = {}, c = {};

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &l), 0);
	a = (struct counter){ .w.fn = on_count, .l = l };
	b = (struct counter){ .w.fn = on_count, .l = l };
	c = (struct counter){ .w.fn = on_count, .l = l };

	/* runs without any socket, once even if deferred twice */
	ioloop_defer(l, &a.w);
	ioloop_defer(l, &a.w);
	ioloop_defer(l, &b.w);
	assert_int_equal(run_idle(e), 1);
	assert_int_equal(a.deferred_calls, 1);
	assert_int_equal(b.deferred_calls, 1);

	/* cancelled: never runs */
	ioloop_defer(l, &c.w);
	ioloop_cancel(&c.w);
	ioloop_cancel(&c.w);
	(void)run_idle(e);
	assert_int_equal(c.deferred_calls, 0);

	/* one that defers itself again runs once per round, not in a loop inside one round */
	a.defer_again = true;
	ioloop_defer(l, &a.w);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(sd_event_run(e, 0), 1);
	assert_int_equal(a.deferred_calls, 1 + 5);
	ioloop_cancel(&a.w);
	assert_true(run_idle(e) <= 1); /* the defer source may fire once more, finding nothing */
	assert_int_equal(a.deferred_calls, 6);
}

/* Large fd numbers grow the table. */
static void test_high_fd(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *l = NULL;
	struct counter a = {};
	struct rlimit rl;
	int sv[2], high;

	assert_true(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur < 2100)
		skip();
	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &l), 0);
	pair(sv);
	high = fcntl(sv[0], F_DUPFD_CLOEXEC, 2000);
	assert_true(high >= 2000);
	close(sv[0]);
	a = (struct counter){ .w.fn = on_count, .l = l };
	assert_int_equal(ioloop_add(l, high, EPOLLIN | EPOLLET, &a.w), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(run_idle(e), 1);
	assert_int_equal(a.last_fd, high);
	assert_int_equal(ioloop_add(l, -1, EPOLLIN, &a.w), -EINVAL);
	high = ioloop_close(l, high);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_and_edge_triggered),
		cmocka_unit_test(test_close_in_batch),
		cmocka_unit_test(test_handover),
		cmocka_unit_test(test_release_adopt),
		cmocka_unit_test(test_defer),
		cmocka_unit_test(test_high_fd),
	};
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
		rl.rlim_cur = 4096;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
