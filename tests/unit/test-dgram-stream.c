/* SPDX-License-Identifier: MIT */
/*
 * test-dgram-stream.c - datagrams as length-prefixed frames (lib/net/dgram-stream.c)
 *
 * The datagram side is one end of an AF_UNIX SOCK_DGRAM socketpair, the test plays the other
 * end; the stream side is driven by hand through the struct stream ops. Checked: every datagram
 * (empty, 1 byte, 65535 bytes) reads as exactly one frame; frames written in any pieces leave
 * as exactly the datagrams they hold; shutdown and the idle timeout end reading; a datagram the
 * socket cannot take is dropped, not an error; a socketpair whose other end closed ends it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "dgram-stream.h"
#include "ioloop.h"
#include "stream.h"

static sd_event *ev;
static struct ioloop *loop;

static int setup(void **state)
{
	if (sd_event_new(&ev) < 0 || ioloop_new(ev, &loop) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	loop = ioloop_free(loop);
	ev = sd_event_unref(ev);
	return 0;
}

static void on_wake(struct stream *st, void *userdata)
{
	(*(int *)userdata)++;
}

static struct stream *new_pair(int *ret_other, uint64_t idle_usec, int *wakes)
{
	struct stream *st = NULL;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(dgram_stream_new(loop, sv[1], idle_usec, &st), 0);
	st->wake = on_wake;
	st->wake_userdata = wakes;
	*ret_other = sv[0];
	return st;
}

/* the next frame from @st, whole, through peek()/consume() in pieces of at most @piece */
static size_t read_frame(struct stream *st, uint8_t *out, size_t piece)
{
	size_t got = 0, want = DGRAM_FRAME_HDR;

	while (got < want) {
		const void *p;
		ssize_t n = st->ops->peek(st, &p);

		assert_true(n > 0);
		if ((size_t)n > piece)
			n = (ssize_t)piece;
		if ((size_t)n > want - got)
			n = (ssize_t)(want - got);
		memcpy(out + got, p, (size_t)n);
		st->ops->consume(st, (size_t)n);
		got += (size_t)n;
		if (got == DGRAM_FRAME_HDR)
			want += (size_t)out[0] << 8 | out[1];
	}
	return got;
}

static void test_datagrams_to_frames(void **state)
{
	static uint8_t big[DGRAM_MAX], frame[DGRAM_FRAME_HDR + DGRAM_MAX];
	const size_t sizes[] = { 0, 1, 1472, DGRAM_MAX, 7 };
	int other, wakes = 0;
	struct stream *st = new_pair(&other, 0, &wakes);
	const void *p;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(st->ops->peek(st, &p), -EAGAIN);
	for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
		assert_int_equal(send(other, big, sizes[i], 0), (ssize_t)sizes[i]);
	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		size_t n = read_frame(st, frame, i % 2 ? 1000 : SIZE_MAX);

		assert_int_equal(n, DGRAM_FRAME_HDR + sizes[i]);
		assert_int_equal(frame[0] << 8 | frame[1], sizes[i]);
		assert_memory_equal(frame + DGRAM_FRAME_HDR, big, sizes[i]);
	}
	assert_int_equal(st->ops->peek(st, &p), -EAGAIN);
	/* read() gives the same bytes */
	assert_int_equal(send(other, "abc", 3, 0), 3);
	assert_int_equal(st->ops->read(st, frame, sizeof(frame)), 5);
	assert_memory_equal(frame, "\0\3abc", 5);
	stream_free(st);
	close(other);
}

static void test_frames_to_datagrams(void **state)
{
	static uint8_t buf[3 * (DGRAM_FRAME_HDR + DGRAM_MAX)], got[DGRAM_MAX + 1];
	const size_t sizes[] = { 5, 0, DGRAM_MAX, 1 };
	size_t len = 0, pieces[] = { 1, 2, 3, 1000, 70000, SIZE_MAX };
	int other, wakes = 0;
	struct stream *st = new_pair(&other, 0, &wakes);

	assert_int_equal(setsockopt(other, SOL_SOCKET, SO_RCVBUF, &(int){ 1 << 20 }, sizeof(int)),
			 0);
	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		buf[len++] = (uint8_t)(sizes[i] >> 8);
		buf[len++] = (uint8_t)sizes[i];
		for (size_t k = 0; k < sizes[i]; k++)
			buf[len++] = (uint8_t)(k + i);
	}
	for (size_t pi = 0; pi < ELEMENTSOF(pieces); pi++) {
		for (size_t off = 0; off < len;) {
			size_t n = len - off < pieces[pi] ? len - off : pieces[pi];

			assert_int_equal(st->ops->write(st, buf + off, n), (ssize_t)n);
			off += n;
		}
		for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
			ssize_t n = recv(other, got, sizeof(got), MSG_DONTWAIT);

			assert_int_equal(n, (ssize_t)sizes[i]);
			for (size_t k = 0; k < sizes[i]; k++)
				assert_int_equal(got[k], (uint8_t)(k + i));
		}
		assert_int_equal(recv(other, got, sizeof(got), MSG_DONTWAIT), -1);
		assert_int_equal(errno, EAGAIN);
	}
	stream_free(st);
	close(other);
}

static void test_drops_not_errors(void **state)
{
	static uint8_t frame[DGRAM_FRAME_HDR + 60000];
	int other, wakes = 0;
	struct stream *st = new_pair(&other, 0, &wakes);
	unsigned got = 0;

	frame[0] = 60000 >> 8;
	frame[1] = 60000 & 0xff;
	/* far more than the peer's receive buffer holds: the excess is dropped */
	for (int i = 0; i < 200; i++)
		assert_int_equal(st->ops->write(st, frame, sizeof(frame)), (ssize_t)sizeof(frame));
	while (recv(other, frame, sizeof(frame), MSG_DONTWAIT) == 60000)
		got++;
	assert_true(got > 0 && got < 200);
	/* the socketpair's other end gone: the bytes are taken, and the stream ends */
	close(other);
	assert_int_equal(st->ops->write(st, frame, sizeof(frame)), (ssize_t)sizeof(frame));
	{
		const void *p;

		assert_int_equal(st->ops->peek(st, &p), 0);
	}
	assert_true(wakes > 0);
	stream_free(st);
}

static void test_shutdown_and_idle(void **state)
{
	int other, wakes = 0;
	struct stream *st = new_pair(&other, 0, &wakes);
	const void *p;

	assert_int_equal(send(other, "x", 1, 0), 1);
	assert_int_equal(st->ops->shutdown_write(st), 0);
	assert_int_equal(st->ops->peek(st, &p), 0); /* no half-close: reading ends too */
	assert_int_equal(st->ops->write(st, "\0\1x", 3), -EPIPE);
	stream_free(st);
	close(other);

	wakes = 0;
	st = new_pair(&other, 100 * 1000, &wakes);
	assert_int_equal(send(other, "y", 1, 0), 1);
	for (int i = 0; i < 50 && wakes == 0; i++)
		assert_true(sd_event_run(ev, 10 * 1000) >= 0);
	assert_true(wakes > 0); /* the datagram woke the reader */
	assert_int_equal(st->ops->peek(st, &p), 3);
	st->ops->consume(st, 3);
	wakes = 0;
	for (int i = 0; i < 100 && st->ops->peek(st, &p) != 0; i++)
		assert_true(sd_event_run(ev, 20 * 1000) >= 0);
	assert_int_equal(st->ops->peek(st, &p), 0); /* idle for 100 ms: EOF */
	assert_true(wakes > 0);
	stream_free(st);
	close(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_datagrams_to_frames),
		cmocka_unit_test(test_frames_to_datagrams),
		cmocka_unit_test(test_drops_not_errors),
		cmocka_unit_test(test_shutdown_and_idle),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
