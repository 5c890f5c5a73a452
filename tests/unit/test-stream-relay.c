/* SPDX-License-Identifier: MIT */
/*
 * test-stream-relay.c - the buffered relay: relays with a user-space stream end
 *
 * A user-space stream is played by an in-memory pipe pair (struct mem_pair): two ends, each a
 * struct stream, joined by two ring buffers of a small capacity, so a writer really meets -EAGAIN
 * and the relay's backpressure is exercised. One end of a pair goes to the relay, the test drives
 * the other one by hand; a socket end is one side of a unix socketpair. Everything runs in the
 * test process on one sd-event loop: the test moves a little data, runs the loop, and so on.
 * Data carries a position-dependent pattern so loss or reordering is caught, and every test ends
 * with no pair left alive (ASan/valgrind report the rest).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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
#include "relay.h"
#include "stream-socket.h"
#include "stream.h"

DEFINE_POINTER_CLEANUP(struct ioloop *, ioloop_free)

/* ---- the in-memory stream ---- */

struct mem_pipe {
	uint8_t *buf;
	size_t cap, off, len;
	bool shut; /* the writer shut down (or was freed) */
};

struct mem_pair;

struct mem_end {
	struct stream st; /* first */
	struct mem_pair *pair;
	unsigned side;
	bool freed;
};

struct mem_pair {
	struct mem_end end[2];
	struct mem_pipe pipe[2]; /* pipe[i] is written by end i and read by end !i */
	int error[2];		 /* injected: end i's calls fail with it */
	unsigned refs;
};

static unsigned live_pairs;

static struct mem_end *mem(struct stream *st)
{
	return (struct mem_end *)st;
}

static void mem_wake_peer(struct mem_end *e)
{
	struct mem_end *peer = &e->pair->end[!e->side];

	if (!peer->freed)
		stream_wake(&peer->st);
}

static ssize_t mem_read(struct stream *st, void *buf, size_t len)
{
	struct mem_end *e = mem(st);
	struct mem_pipe *p = &e->pair->pipe[!e->side];
	size_t n = 0;

	assert_false(e->freed);
	if (e->pair->error[e->side])
		return e->pair->error[e->side];
	if (p->len == 0)
		return p->shut ? 0 : -EAGAIN;
	while (n < len && p->len > 0) {
		size_t chunk = p->cap - p->off;

		if (chunk > p->len)
			chunk = p->len;
		if (chunk > len - n)
			chunk = len - n;
		memcpy((uint8_t *)buf + n, p->buf + p->off, chunk);
		p->off = (p->off + chunk) % p->cap;
		p->len -= chunk;
		n += chunk;
	}
	mem_wake_peer(e); /* from inside read(): the consumer must cope */
	return (ssize_t)n;
}

static ssize_t mem_write(struct stream *st, const void *buf, size_t len)
{
	struct mem_end *e = mem(st);
	struct mem_pipe *p = &e->pair->pipe[e->side];
	size_t n = 0;

	assert_false(e->freed);
	assert_false(p->shut); /* no write after shutdown_write() */
	if (e->pair->error[e->side])
		return e->pair->error[e->side];
	if (e->pair->end[!e->side].freed)
		return -EPIPE;
	if (p->len == p->cap)
		return -EAGAIN;
	while (n < len && p->len < p->cap) {
		size_t at = (p->off + p->len) % p->cap;
		size_t chunk = at >= p->off ? p->cap - at : p->off - at;

		if (chunk > p->cap - p->len)
			chunk = p->cap - p->len;
		if (chunk > len - n)
			chunk = len - n;
		memcpy(p->buf + at, (const uint8_t *)buf + n, chunk);
		p->len += chunk;
		n += chunk;
	}
	mem_wake_peer(e);
	return (ssize_t)n;
}

static int mem_shutdown_write(struct stream *st)
{
	struct mem_end *e = mem(st);

	assert_false(e->freed);
	if (e->pair->error[e->side])
		return e->pair->error[e->side];
	e->pair->pipe[e->side].shut = true;
	mem_wake_peer(e);
	return 0;
}

static void mem_free(struct stream *st)
{
	struct mem_end *e = mem(st);
	struct mem_pair *pair = e->pair;

	assert_false(e->freed); /* freed once */
	e->freed = true;
	e->st.wake = NULL;
	pair->pipe[e->side].shut = true; /* the peer reads what is left, then EOF */
	mem_wake_peer(e);
	if (--pair->refs > 0)
		return;
	free(pair->pipe[0].buf);
	free(pair->pipe[1].buf);
	free(pair);
	live_pairs--;
}

static const struct stream_ops mem_ops = {
	.kind = "mem",
	.read = mem_read,
	.write = mem_write,
	.shutdown_write = mem_shutdown_write,
	.free = mem_free,
};

/* The zero-copy ops (stream.h): the relay then reads in place from a source that can peek, or
 * reads into a sink that can reserve. Every test runs once with each set (zero_copy). */
static bool zero_copy;

static ssize_t mem_peek(struct stream *st, const void **ret_ptr)
{
	struct mem_end *e = mem(st);
	struct mem_pipe *p = &e->pair->pipe[!e->side];
	size_t chunk;

	assert_false(e->freed);
	if (e->pair->error[e->side])
		return e->pair->error[e->side];
	if (p->len == 0)
		return p->shut ? 0 : -EAGAIN;
	chunk = p->cap - p->off;
	if (chunk > p->len)
		chunk = p->len;
	*ret_ptr = p->buf + p->off;
	return (ssize_t)chunk;
}

static void mem_consume(struct stream *st, size_t n)
{
	struct mem_end *e = mem(st);
	struct mem_pipe *p = &e->pair->pipe[!e->side];

	assert_true(n <= p->len && n <= p->cap - p->off);
	p->off = (p->off + n) % p->cap;
	p->len -= n;
	if (n > 0)
		mem_wake_peer(e);
}

static bool reserved; /* a reserve() must be followed by one commit() */

static ssize_t mem_reserve(struct stream *st, void **ret_ptr)
{
	struct mem_end *e = mem(st);
	struct mem_pipe *p = &e->pair->pipe[e->side];
	size_t at, chunk;

	assert_false(e->freed);
	assert_false(p->shut);
	assert_false(reserved);
	if (e->pair->error[e->side])
		return e->pair->error[e->side];
	if (e->pair->end[!e->side].freed)
		return -EPIPE;
	if (p->len == p->cap)
		return -EAGAIN;
	at = (p->off + p->len) % p->cap;
	chunk = at >= p->off ? p->cap - at : p->off - at;
	if (chunk > p->cap - p->len)
		chunk = p->cap - p->len;
	*ret_ptr = p->buf + at;
	reserved = true;
	return (ssize_t)chunk;
}

static void mem_commit(struct stream *st, size_t n)
{
	struct mem_end *e = mem(st);
	struct mem_pipe *p = &e->pair->pipe[e->side];

	assert_true(reserved);
	reserved = false;
	assert_true(n <= p->cap - p->len);
	p->len += n;
	if (n > 0)
		mem_wake_peer(e);
}

static const struct stream_ops mem_zc_ops = {
	.kind = "mem-zc",
	.read = mem_read,
	.write = mem_write,
	.shutdown_write = mem_shutdown_write,
	.peek = mem_peek,
	.consume = mem_consume,
	.reserve = mem_reserve,
	.commit = mem_commit,
	.free = mem_free,
};

/* A pair whose pipes hold @cap bytes each: *a and *b are its two ends. */
static struct mem_pair *mem_pair_new(size_t cap, struct stream **a, struct stream **b)
{
	struct mem_pair *pair = calloc(1, sizeof(*pair));

	assert_non_null(pair);
	for (unsigned i = 0; i < 2; i++) {
		pair->end[i].st.ops = zero_copy ? &mem_zc_ops : &mem_ops;
		pair->end[i].pair = pair;
		pair->end[i].side = i;
		pair->pipe[i].cap = cap;
		pair->pipe[i].buf = malloc(cap);
		assert_non_null(pair->pipe[i].buf);
	}
	pair->refs = 2;
	live_pairs++;
	*a = &pair->end[0].st;
	*b = &pair->end[1].st;
	return pair;
}

/* Break end @st: its calls fail with @error from now on, and its consumer learns it. */
static void mem_fail(struct stream *st, int error)
{
	mem(st)->pair->error[mem(st)->side] = error;
	stream_wake(st);
}

/* ---- the test's side of each end: a socket or the free end of a mem pair ---- */

struct tend {
	int fd;
	struct stream *st;
};

static ssize_t t_read(struct tend *t, void *buf, size_t len)
{
	ssize_t n;

	if (t->st)
		return t->st->ops->read(t->st, buf, len);
	n = read(t->fd, buf, len);
	return n < 0 ? -errno : n;
}

static ssize_t t_write(struct tend *t, const void *buf, size_t len)
{
	ssize_t n;

	if (t->st)
		return t->st->ops->write(t->st, buf, len);
	n = write(t->fd, buf, len);
	return n < 0 ? -errno : n;
}

static void t_shutdown(struct tend *t)
{
	if (t->st)
		assert_int_equal(t->st->ops->shutdown_write(t->st), 0);
	else
		assert_int_equal(shutdown(t->fd, SHUT_WR), 0);
}

static void t_close(struct tend *t)
{
	t->st = stream_free(t->st);
	t->fd = safe_close(t->fd);
}

enum kind { SOCK, MEM };

/* One side of the relay: what the relay gets, and what the test keeps. */
struct side {
	struct relay_end rend;
	struct tend t;
	struct mem_pair *pair; /* MEM only */
};

static void set_nonblock(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

static void make_side(struct side *s, enum kind k, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->t.fd = -EBADF;
	if (k == SOCK) {
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		set_nonblock(sv[0]);
		set_nonblock(sv[1]);
		s->rend = RELAY_END_FD(sv[0]);
		s->t.fd = sv[1];
	} else {
		struct stream *a, *b;

		s->pair = mem_pair_new(cap, &a, &b);
		s->rend = RELAY_END_STREAM(a);
		s->t.st = b;
	}
}

/* ---- the relay under test ---- */

struct result {
	bool finished;
	int error;
	const char *reason;
	uint64_t up, down;
};

static void on_done(struct relay *r, int error, const char *reason, void *userdata)
{
	struct result *res = userdata;

	assert_false(res->finished); /* called once */
	res->finished = true;
	res->error = error;
	res->reason = reason;
	relay_bytes(r, &res->up, &res->down);
}

struct fixture {
	sd_event *e;
	struct ioloop *l;
	struct relay *r;
	struct side client, backend;
	struct result res;
};

static void fixture_start(struct fixture *f, enum kind ck, size_t ccap, enum kind bk, size_t bcap)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(sd_event_new(&f->e), 0);
	assert_int_equal(ioloop_new(f->e, &f->l), 0);
	make_side(&f->client, ck, ccap);
	make_side(&f->backend, bk, bcap);
	/* no pipe pool: a relay with a stream end never splices */
	assert_int_equal(
		relay_new(f->l, NULL, f->client.rend, f->backend.rend, on_done, &f->res, &f->r), 0);
	assert_false(f->res.finished);
}

static void fixture_end(struct fixture *f)
{
	f->r = relay_free(f->r);
	t_close(&f->client.t);
	t_close(&f->backend.t);
	f->l = ioloop_free(f->l);
	f->e = sd_event_unref(f->e);
	assert_int_equal(live_pairs, 0);
}

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 2654435761U >> 13);
}

/* One direction as the test sees it: it writes @total bytes into @out, reads them from @in. */
struct flow {
	struct tend *out, *in;
	uint64_t total, sent, got;
	size_t wchunk, rchunk;
	bool shut, eof;
};

/* Return: whether anything moved */
static bool flow_step(struct flow *f)
{
	uint8_t buf[65536];
	bool moved = false;
	ssize_t n;

	if (f->sent < f->total) {
		size_t want =
			f->total - f->sent < f->wchunk ? (size_t)(f->total - f->sent) : f->wchunk;

		for (size_t i = 0; i < want; i++)
			buf[i] = pattern(f->sent + i);
		n = t_write(f->out, buf, want);
		if (n != -EAGAIN) {
			assert_true(n > 0);
			f->sent += (uint64_t)n;
			moved = true;
		}
	}
	if (f->sent == f->total && !f->shut) {
		t_shutdown(f->out);
		f->shut = true;
		moved = true;
	}
	if (!f->eof && f->rchunk > 0) { /* rchunk 0: the reader stalls */
		n = t_read(f->in, buf, f->rchunk);
		if (n == 0) {
			assert_int_equal(f->got, f->total); /* EOF only after everything */
			f->eof = true;
			moved = true;
		} else if (n != -EAGAIN) {
			assert_true(n > 0);
			for (ssize_t i = 0; i < n; i++)
				assert_int_equal(buf[i], pattern(f->got + (uint64_t)i));
			f->got += (uint64_t)n;
			moved = true;
		}
	}
	return moved;
}

/* Runs the loop (bounded) until @done is set or both flows finished. */
static void run_flows(struct fixture *f, struct flow *up, struct flow *down)
{
	for (unsigned idle = 0; !f->res.finished || (up && !up->eof) || (down && !down->eof);) {
		bool moved = false;

		if (up)
			moved |= flow_step(up);
		if (down)
			moved |= flow_step(down);
		if (sd_event_run(f->e, moved ? 0 : 10 * 1000) > 0)
			moved = true;
		idle = moved ? 0 : idle + 1;
		assert_true(idle < 500); /* 5 s without progress: stuck */
	}
}

static const struct {
	enum kind client, backend;
} configs[] = { { SOCK, MEM }, { MEM, SOCK }, { MEM, MEM } };

/* 1.5 MB each way at once, through pipes of an odd small size: content, EOF and counters. */
static void test_bulk_both_ways(void **state)
{
	for (unsigned c = 0; c < ELEMENTSOF(configs); c++) {
		const uint64_t total = 3 << 19;
		struct fixture f;
		struct flow up, down;

		fixture_start(&f, configs[c].client, 3001, configs[c].backend, 4096);
		up = (struct flow){ .out = &f.client.t,
				    .in = &f.backend.t,
				    .total = total,
				    .wchunk = 65536,
				    .rchunk = 65536 };
		down = (struct flow){ .out = &f.backend.t,
				      .in = &f.client.t,
				      .total = total,
				      .wchunk = 1000,
				      .rchunk = 777 };
		run_flows(&f, &up, &down);
		assert_int_equal(f.res.error, 0);
		assert_string_equal(f.res.reason, "done");
		assert_int_equal(f.res.up, total);
		assert_int_equal(f.res.down, total);
		fixture_end(&f);
	}
}

/* Two sockets, each wrapped by hand in a stream_socket: the adapter on both ends. */
static void test_socket_streams(void **state)
{
	const uint64_t total = 1 << 20;
	struct fixture f = {};
	struct stream *a, *b;
	struct flow up, down;
	int sv[2], sw[2];

	assert_int_equal(sd_event_new(&f.e), 0);
	assert_int_equal(ioloop_new(f.e, &f.l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sw), 0);
	assert_int_equal(stream_socket_new(f.l, sv[0], &a), 0);
	assert_int_equal(stream_socket_new(f.l, sw[0], &b), 0);
	assert_string_equal(a->ops->kind, "socket");
	f.client.t = (struct tend){ .fd = sv[1] };
	f.backend.t = (struct tend){ .fd = sw[1] };
	assert_int_equal(relay_new(f.l, NULL, RELAY_END_STREAM(a), RELAY_END_STREAM(b), on_done,
				   &f.res, &f.r),
			 0);
	up = (struct flow){ .out = &f.client.t,
			    .in = &f.backend.t,
			    .total = total,
			    .wchunk = 65536,
			    .rchunk = 65536 };
	down = (struct flow){ .out = &f.backend.t,
			      .in = &f.client.t,
			      .total = total,
			      .wchunk = 5000,
			      .rchunk = 65536 };
	run_flows(&f, &up, &down);
	assert_int_equal(f.res.error, 0);
	assert_string_equal(f.res.reason, "done");
	assert_int_equal(f.res.up, total);
	assert_int_equal(f.res.down, total);
	fixture_end(&f);
}

/* One side shuts down writing; the other still sends, and it arrives. Both ways round. */
static void test_half_close(void **state)
{
	for (unsigned c = 0; c < ELEMENTSOF(configs); c++)
		for (unsigned first = 0; first < 2; first++) {
			struct fixture f;
			struct flow req, reply;
			struct tend *asker, *answerer;

			fixture_start(&f, configs[c].client, 2048, configs[c].backend, 2048);
			asker = first == 0 ? &f.client.t : &f.backend.t;
			answerer = first == 0 ? &f.backend.t : &f.client.t;
			req = (struct flow){ .out = asker,
					     .in = answerer,
					     .total = 7,
					     .wchunk = 7,
					     .rchunk = 65536 };
			/* the request and its EOF first */
			while (!req.eof) {
				flow_step(&req);
				assert_true(sd_event_run(f.e, 10 * 1000) >= 0);
				assert_false(f.res.finished);
			}
			/* then the reply, 1 MiB, on the half that is still open */
			reply = (struct flow){ .out = answerer,
					       .in = asker,
					       .total = 1 << 20,
					       .wchunk = 65536,
					       .rchunk = 65536 };
			run_flows(&f, NULL, &reply);
			assert_int_equal(f.res.error, 0);
			assert_string_equal(f.res.reason, "done");
			assert_int_equal(first == 0 ? f.res.up : f.res.down, 7);
			assert_int_equal(first == 0 ? f.res.down : f.res.up, 1 << 20);
			fixture_end(&f);
		}
}

/* A stream end that breaks ends the relay with its error, named after its side. */
static void test_error(void **state)
{
	static const struct {
		enum kind client, backend;
		unsigned broken;
		int error;
		const char *reason;
	} cases[] = {
		{ MEM, SOCK, 0, -ECONNRESET, "client reset" },
		{ SOCK, MEM, 1, -ECONNRESET, "backend reset" },
		{ MEM, MEM, 1, -EIO, "backend error" },
		{ MEM, MEM, 0, -EPROTO, "client error" },
	};

	for (unsigned c = 0; c < ELEMENTSOF(cases); c++) {
		struct fixture f;
		struct side *broken;
		char buf[16];
		size_t got = 0;

		fixture_start(&f, cases[c].client, 4096, cases[c].backend, 4096);
		broken = cases[c].broken == 0 ? &f.client : &f.backend;
		/* some traffic first, so the counters are known; no EOF, so both ends stay read */
		assert_int_equal(t_write(&f.client.t, "hello", 5), 5);
		for (unsigned i = 0; i < 100 && got < 5; i++) {
			ssize_t n;

			assert_true(sd_event_run(f.e, 10 * 1000) >= 0);
			n = t_read(&f.backend.t, buf + got, sizeof(buf) - got);
			if (n > 0)
				got += (size_t)n;
		}
		assert_int_equal(got, 5);
		assert_memory_equal(buf, "hello", 5);
		assert_false(f.res.finished);
		mem_fail(broken->rend.stream, cases[c].error);
		for (unsigned i = 0; i < 100 && !f.res.finished; i++)
			assert_true(sd_event_run(f.e, 10 * 1000) >= 0);
		assert_true(f.res.finished);
		assert_int_equal(f.res.error, cases[c].error);
		assert_string_equal(f.res.reason, cases[c].reason);
		assert_int_equal(f.res.up, 5);
		assert_int_equal(f.res.down, 0);
		/* the relay freed its ends before done: only the test's ends keep the pairs */
		if (f.client.pair)
			assert_true(mem(f.client.rend.stream)->freed);
		if (f.backend.pair)
			assert_true(mem(f.backend.rend.stream)->freed);
		fixture_end(&f);
	}
}

/* relay_free() in the middle of a transfer, with buffered data: everything goes, done is not
 * called. */
static void test_free_midway(void **state)
{
	for (unsigned c = 0; c < ELEMENTSOF(configs); c++) {
		struct fixture f;
		struct flow up, down;
		uint64_t bup, bdown;

		fixture_start(&f, configs[c].client, 1024, configs[c].backend, 1024);
		up = (struct flow){ .out = &f.client.t,
				    .in = &f.backend.t,
				    .total = 1 << 20,
				    .wchunk = 65536,
				    .rchunk = 100 };
		down = (struct flow){ .out = &f.backend.t,
				      .in = &f.client.t,
				      .total = 1 << 20,
				      .wchunk = 65536,
				      .rchunk = 100 };
		for (unsigned i = 0; i < 50; i++) {
			flow_step(&up);
			flow_step(&down);
			assert_true(sd_event_run(f.e, 1000) >= 0);
		}
		assert_false(f.res.finished);
		relay_bytes(f.r, &bup, &bdown);
		assert_true(bup >= up.got && bup > 0);
		assert_true(bdown >= down.got && bdown > 0);
		if (f.backend.pair) /* exact: delivered = read by the test + still in the pipe */
			assert_int_equal(bup, up.got + f.backend.pair->pipe[0].len);
		if (f.client.pair)
			assert_int_equal(bdown, down.got + f.client.pair->pipe[0].len);
		f.r = relay_free(f.r);
		if (f.client.pair)
			assert_true(mem(f.client.rend.stream)->freed);
		if (f.backend.pair)
			assert_true(mem(f.backend.rend.stream)->freed);
		for (unsigned i = 0; i < 5; i++)
			assert_true(sd_event_run(f.e, 1000) >= 0);
		assert_false(f.res.finished);
		fixture_end(&f);
	}
}

/*
 * A slow consumer: the backend's pipe holds 512 bytes and the test reads it 13 bytes at a time.
 * While nobody reads, the relay stops reading its client (it holds at most its 16 KiB buffer);
 * then everything arrives, in order.
 */
static void test_slow_consumer(void **state)
{
	for (unsigned c = 0; c < ELEMENTSOF(configs); c++) {
		const uint64_t total = 128 << 10;
		struct fixture f;
		struct flow up, down;
		uint64_t bup, queued;

		if (configs[c].backend != MEM)
			continue;
		fixture_start(&f, configs[c].client, 2048, MEM, 512);
		up = (struct flow){ .out = &f.client.t,
				    .in = &f.backend.t,
				    .total = total,
				    .wchunk = 65536,
				    .rchunk = 0 };
		/* nobody reads: the client's writes stop once every buffer on the way is full */
		for (unsigned idle = 0; idle < 20;) {
			uint64_t before = up.sent;

			flow_step(&up);
			assert_true(sd_event_run(f.e, 1000) >= 0);
			idle = up.sent == before ? idle + 1 : 0;
		}
		relay_bytes(f.r, &bup, NULL);
		assert_int_equal(bup, 512); /* the backend pipe is full */
		/* the relay itself holds at most its 16 KiB buffer: the rest waits in the source */
		if (configs[c].client == MEM) {
			queued = f.client.pair->pipe[1].len;
		} else {
			int inq = 0;

			assert_int_equal(ioctl(f.client.rend.fd, FIONREAD, &inq), 0);
			queued = (uint64_t)inq;
		}
		assert_true(up.sent - queued - bup <= 16384);
		up.rchunk = 13;
		down = (struct flow){
			.out = &f.backend.t, .in = &f.client.t, .wchunk = 1, .rchunk = 65536
		}; /* nothing, then EOF */
		run_flows(&f, &up, &down);
		assert_int_equal(f.res.error, 0);
		assert_int_equal(f.res.up, total);
		assert_int_equal(f.res.down, 0);
		fixture_end(&f);
	}
}

/* Both ends at EOF before the relay starts: done comes from the loop, never from relay_new(). */
static void test_done_not_from_new(void **state)
{
	struct fixture f = {};
	struct stream *a, *b, *c, *d;

	assert_int_equal(sd_event_new(&f.e), 0);
	assert_int_equal(ioloop_new(f.e, &f.l), 0);
	f.client.pair = mem_pair_new(64, &a, &b);
	f.backend.pair = mem_pair_new(64, &c, &d);
	f.client.t = (struct tend){ .fd = -EBADF, .st = b };
	f.backend.t = (struct tend){ .fd = -EBADF, .st = d };
	assert_int_equal(b->ops->write(b, "x", 1), 1);
	assert_int_equal(b->ops->shutdown_write(b), 0);
	assert_int_equal(d->ops->shutdown_write(d), 0);
	assert_int_equal(relay_new(f.l, NULL, RELAY_END_STREAM(a), RELAY_END_STREAM(c), on_done,
				   &f.res, &f.r),
			 0);
	assert_false(f.res.finished);
	for (unsigned i = 0; i < 10 && !f.res.finished; i++)
		assert_true(sd_event_run(f.e, 10 * 1000) >= 0);
	assert_true(f.res.finished);
	assert_int_equal(f.res.error, 0);
	assert_int_equal(f.res.up, 1);
	fixture_end(&f);
}

/* Invalid ends are refused and stay the caller's; relay_end_close() releases either kind. */
static void test_invalid_ends(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *l = NULL;
	struct relay *r = NULL;
	struct result res = {};
	struct stream *a, *b;
	struct relay_end both, fd_end, st_end;
	int sv[2];

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &l), 0);
	mem_pair_new(64, &a, &b);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	both = (struct relay_end){ .fd = sv[0], .stream = a };
	assert_int_equal(relay_new(l, NULL, both, RELAY_END_STREAM(b), on_done, &res, &r), -EINVAL);
	assert_int_equal(
		relay_new(l, NULL, RELAY_END_FD(-EBADF), RELAY_END_STREAM(b), on_done, &res, &r),
		-EINVAL);
	/* two sockets need a pipe pool */
	assert_int_equal(
		relay_new(l, NULL, RELAY_END_FD(sv[0]), RELAY_END_FD(sv[1]), on_done, &res, &r),
		-EINVAL);
	assert_null(r);
	assert_int_equal(live_pairs, 1);
	assert_int_equal(fcntl(sv[0], F_GETFD), FD_CLOEXEC); /* still open */
	fd_end = RELAY_END_FD(sv[0]);
	st_end = RELAY_END_STREAM(a);
	relay_end_close(&fd_end);
	relay_end_close(&st_end);
	assert_true(fd_end.fd < 0 && !fd_end.stream);
	assert_true(st_end.fd < 0 && !st_end.stream);
	assert_int_equal(fcntl(sv[0], F_GETFD), -1);
	b = stream_free(b);
	assert_int_equal(live_pairs, 0);
	(void)close(sv[1]);
	relay_end_close(NULL);
}

static int zc_on(void **state)
{
	zero_copy = true;
	return 0;
}

static int zc_off(void **state)
{
	zero_copy = false;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bulk_both_ways),
		cmocka_unit_test(test_socket_streams),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_free_midway),
		cmocka_unit_test(test_slow_consumer),
		cmocka_unit_test(test_done_not_from_new),
		cmocka_unit_test(test_invalid_ends),
		cmocka_unit_test_setup_teardown(test_bulk_both_ways, zc_on, zc_off),
		cmocka_unit_test_setup_teardown(test_socket_streams, zc_on, zc_off),
		cmocka_unit_test_setup_teardown(test_half_close, zc_on, zc_off),
		cmocka_unit_test_setup_teardown(test_error, zc_on, zc_off),
		cmocka_unit_test_setup_teardown(test_free_midway, zc_on, zc_off),
		cmocka_unit_test_setup_teardown(test_slow_consumer, zc_on, zc_off),
		cmocka_unit_test_setup_teardown(test_done_not_from_new, zc_on, zc_off),
		cmocka_unit_test_setup_teardown(test_invalid_ends, zc_on, zc_off),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
