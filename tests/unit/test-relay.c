/* SPDX-License-Identifier: MIT */
/*
 * test-relay.c - the stream relay on real sockets: TCP loopback and unix socketpairs
 *
 * The relay runs on an sd-event loop in the test process; clients and echo servers that must
 * run concurrently with it are forked children using blocking I/O, and report through their exit
 * status. Data carries a position-dependent pattern so reordering or loss is caught.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

DEFINE_POINTER_CLEANUP(struct ioloop *, ioloop_free)

/*
 * Heap accounting for test_idle_memory. This binary is linked with -Wl,--wrap= for malloc, calloc,
 * realloc, reallocarray and free (tests/unit/meson.build), so every allocation that libwormhole's
 * code and this file make passes here, under glibc, ASan and valgrind alike; libsystemd's own
 * (sd-event sources) do not, so what is counted is what the relay itself holds. Sizes are
 * malloc_usable_size(), the only size free() can know.
 */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_reallocarray(void *p, size_t n, size_t size);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_reallocarray(void *p, size_t n, size_t size);
void __wrap_free(void *p);

static bool heap_counting;
static long long heap_live; /* bytes allocated minus freed while heap_counting */

static void heap_count(void *p, int sign)
{
	if (heap_counting && p)
		heap_live += sign * (long long)malloc_usable_size(p);
}

void *__wrap_malloc(size_t n)
{
	void *p = __real_malloc(n);

	heap_count(p, 1);
	return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
	void *p = __real_calloc(n, size);

	heap_count(p, 1);
	return p;
}

void *__wrap_realloc(void *old, size_t n)
{
	long long was = heap_counting && old ? (long long)malloc_usable_size(old) : 0;
	void *p = __real_realloc(old, n);

	if (p || n == 0) {
		heap_live -= was;
		heap_count(p, 1);
	}
	return p;
}

void *__wrap_reallocarray(void *old, size_t n, size_t size)
{
	long long was = heap_counting && old ? (long long)malloc_usable_size(old) : 0;
	void *p = __real_reallocarray(old, n, size);

	if (p) {
		heap_live -= was;
		heap_count(p, 1);
	}
	return p;
}

void __wrap_free(void *p)
{
	heap_count(p, -1);
	__real_free(p);
}

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

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 2654435761U >> 13);
}

static void set_nonblock(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* A connected TCP pair on 127.0.0.1: *a is the connecting end, *b the accepted one. */
static void tcp_pair(int *a, int *b)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	_cleanup_close_ int l = -EBADF;

	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*a >= 0);
	assert_int_equal(connect(*a, (struct sockaddr *)&sin, sizeof(sin)), 0);
	*b = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(*b >= 0);
}

static void unix_pair(int *a, int *b)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	*a = sv[0];
	*b = sv[1];
}

/* Four sockets: test's client end, relay's client end, relay's backend end, test's backend end. */
struct quad {
	int client, rclient, rbackend, backend;
};

static void make_quad(struct quad *q, bool tcp)
{
	if (tcp) {
		tcp_pair(&q->client, &q->rclient);
		tcp_pair(&q->rbackend, &q->backend);
	} else {
		unix_pair(&q->client, &q->rclient);
		unix_pair(&q->rbackend, &q->backend);
	}
	set_nonblock(q->rclient);
	set_nonblock(q->rbackend);
}

static void run_until(sd_event *e, const bool *flag, uint64_t max_usec)
{
	uint64_t start, now;

	assert_true(sd_event_now(e, CLOCK_MONOTONIC, &start) >= 0);
	while (!*flag) {
		assert_true(sd_event_run(e, 100 * 1000) >= 0);
		assert_true(sd_event_now(e, CLOCK_MONOTONIC, &now) >= 0);
		assert_true(now - start < max_usec);
	}
}

static void run_for(sd_event *e, uint64_t usec)
{
	uint64_t start, now;

	assert_true(sd_event_now(e, CLOCK_MONOTONIC, &start) >= 0);
	do {
		assert_true(sd_event_run(e, 10 * 1000) >= 0);
		assert_true(sd_event_now(e, CLOCK_MONOTONIC, &now) >= 0);
	} while (now - start < usec);
}

/* Child: echo everything back, then pass EOF on. Exit 0 on success. */
static pid_t fork_echo(int fd, int *close_in_child, size_t n_close)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		static char buf[65536];
		ssize_t n;

		alarm(120); /* never outlive a failed test */
		for (size_t i = 0; i < n_close; i++)
			close(close_in_child[i]);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			for (ssize_t o = 0; o < n;) {
				ssize_t w = write(fd, buf + o, (size_t)(n - o));
				if (w <= 0)
					_exit(2);
				o += w;
			}
		if (n < 0 || shutdown(fd, SHUT_WR) < 0)
			_exit(3);
		_exit(0);
	}
	return pid;
}

/*
 * Child: send @total pattern bytes (in @chunk writes) and concurrently read back @total bytes,
 * checking the pattern; then expect EOF. Exit 0 on success.
 */
static pid_t fork_client(int fd, uint64_t total, size_t chunk, int *close_in_child, size_t n_close)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		static uint8_t out[65536], in[65536];
		uint64_t sent = 0, got = 0;

		alarm(120); /* never outlive a failed test */
		for (size_t i = 0; i < n_close; i++)
			close(close_in_child[i]);
		if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
			_exit(10);
		while (got < total || sent < total) {
			struct pollfd p = { .fd = fd,
					    .events = POLLIN | (sent < total ? POLLOUT : 0) };

			if (poll(&p, 1, 30000) <= 0)
				_exit(11);
			if (sent < total && (p.revents & POLLOUT)) {
				size_t n = total - sent < chunk ? (size_t)(total - sent) : chunk;
				ssize_t w;

				for (size_t i = 0; i < n; i++)
					out[i] = pattern(sent + i);
				w = write(fd, out, n);
				if (w < 0 && errno != EAGAIN)
					_exit(12);
				if (w > 0)
					sent += (uint64_t)w;
				if (sent == total && shutdown(fd, SHUT_WR) < 0)
					_exit(13);
			}
			if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t n = read(fd, in, sizeof(in));

				if (n < 0 && errno != EAGAIN)
					_exit(14);
				if (n == 0)
					_exit(15); /* EOF too early */
				for (ssize_t i = 0; i < n; i++)
					if (in[i] != pattern(got + (uint64_t)i))
						_exit(16);
				if (n > 0)
					got += (uint64_t)n;
			}
		}
		if (fcntl(fd, F_SETFL, 0) < 0 || read(fd, in, 1) != 0)
			_exit(17);
		_exit(0);
	}
	return pid;
}

static void wait_ok(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void echo_through_relay(bool tcp, uint64_t total, size_t chunk, unsigned *ret_idle)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *l = NULL;
	struct pipe_pool *pool = NULL;
	struct relay *r = NULL;
	struct result res = {};
	struct quad q;
	pid_t echo, client;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &l), 0);
	assert_int_equal(pipe_pool_new(4, &pool), 0);
	make_quad(&q, tcp);
	echo = fork_echo(q.backend, (int[]){ q.client, q.rclient, q.rbackend }, 3);
	client =
		fork_client(q.client, total, chunk, (int[]){ q.backend, q.rclient, q.rbackend }, 3);
	close(q.client);
	close(q.backend);

	assert_int_equal(relay_new(l, pool, RELAY_END_FD(q.rclient), RELAY_END_FD(q.rbackend),
				   on_done, &res, &r),
			 0);
	assert_int_equal(pipe_pool_idle(pool), 0);
	run_until(e, &res.finished, 120 * 1000 * 1000ULL);
	assert_int_equal(res.error, 0);
	assert_string_equal(res.reason, "done");
	assert_int_equal(res.up, total);
	assert_int_equal(res.down, total);
	wait_ok(echo);
	wait_ok(client);
	*ret_idle = pipe_pool_idle(pool);
	r = relay_free(r);
	pool = pipe_pool_free(pool);
}

static void test_echo_1_byte(void **state)
{
	unsigned idle;

	echo_through_relay(true, 1, 1, &idle);
	assert_int_equal(idle, 0); /* small data never borrows a pipe */
}

static void test_echo_100k(void **state)
{
	unsigned idle;

	/* small writes (reads may still coalesce them into bulk) */
	echo_through_relay(true, 100 * 1024, 1000, &idle);
	/* big writes */
	echo_through_relay(true, 100 * 1024, 65536, &idle);
}

static void test_echo_64m_splice(void **state)
{
	unsigned idle;

	echo_through_relay(true, 64ULL << 20, 65536, &idle);
	/* the bulk path borrowed a pipe (the pool starts empty and creates lazily) and gave it
	 * back to the pool when the relay drained */
	assert_true(idle >= 1);
}

static void test_unix_sockets(void **state)
{
	unsigned idle;

	echo_through_relay(false, 10, 10, &idle);
	assert_int_equal(idle, 0);
	echo_through_relay(false, 8ULL << 20, 65536, &idle);
	assert_true(idle >= 1);
}

/* Client sends a request and shuts down writing; it must still receive the full 1 MiB reply. */
static void test_half_close(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *l = NULL;
	struct pipe_pool *pool = NULL;
	struct relay *r = NULL;
	struct result res = {};
	struct quad q;
	const uint64_t reply = 1 << 20;
	pid_t backend, client;
	int status;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &l), 0);
	assert_int_equal(pipe_pool_new(4, &pool), 0);
	make_quad(&q, true);

	backend = fork();
	assert_true(backend >= 0);
	if (backend == 0) {
		static uint8_t buf[1 << 20];
		size_t got = 0;
		ssize_t n;

		close(q.client);
		close(q.rclient);
		close(q.rbackend);
		while ((n = read(q.backend, buf + got, sizeof(buf) - got)) > 0)
			got += (size_t)n;
		if (n < 0 || got != 7 || memcmp(buf, "request", 7) != 0)
			_exit(20);
		for (uint64_t i = 0; i < reply; i++)
			buf[i] = pattern(i);
		for (size_t o = 0; o < reply; o += (size_t)n)
			if ((n = write(q.backend, buf + o, reply - o)) <= 0)
				_exit(21);
		_exit(0); /* close: EOF */
	}
	client = fork();
	assert_true(client >= 0);
	if (client == 0) {
		static uint8_t buf[65536];
		uint64_t got = 0;
		ssize_t n;

		close(q.backend);
		close(q.rclient);
		close(q.rbackend);
		if (write(q.client, "request", 7) != 7 || shutdown(q.client, SHUT_WR) < 0)
			_exit(30);
		while ((n = read(q.client, buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] != pattern(got + (uint64_t)i))
					_exit(31);
			got += (uint64_t)n;
		}
		_exit(n == 0 && got == reply ? 0 : 32);
	}
	close(q.client);
	close(q.backend);
	assert_int_equal(relay_new(l, pool, RELAY_END_FD(q.rclient), RELAY_END_FD(q.rbackend),
				   on_done, &res, &r),
			 0);
	run_until(e, &res.finished, 60 * 1000 * 1000ULL);
	assert_int_equal(res.error, 0);
	assert_string_equal(res.reason, "done");
	assert_int_equal(res.up, 7);
	assert_int_equal(res.down, reply);
	assert_int_equal(waitpid(backend, &status, 0), backend);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	wait_ok(client);
	r = relay_free(r);
	pool = pipe_pool_free(pool);
}

static void reset_socket(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
	close(fd); /* sends RST */
}

static void test_reset(void **state)
{
	for (unsigned side = 0; side < 2; side++) {
		_cleanup_(sd_event_unrefp) sd_event *e = NULL;
		_cleanup_(ioloop_freep) struct ioloop *l = NULL;
		struct pipe_pool *pool = NULL;
		struct relay *r = NULL;
		struct result res = {};
		char buf[16];
		struct quad q;

		assert_int_equal(sd_event_new(&e), 0);
		assert_int_equal(ioloop_new(e, &l), 0);
		assert_int_equal(pipe_pool_new(4, &pool), 0);
		make_quad(&q, true);
		assert_int_equal(relay_new(l, pool, RELAY_END_FD(q.rclient),
					   RELAY_END_FD(q.rbackend), on_done, &res, &r),
				 0);

		/* some traffic first, so the counters are known */
		assert_int_equal(write(q.client, "hello", 5), 5);
		run_for(e, 20 * 1000);
		assert_int_equal(read(q.backend, buf, sizeof(buf)), 5);
		assert_false(res.finished);

		reset_socket(side == 0 ? q.client : q.backend);
		run_until(e, &res.finished, 10 * 1000 * 1000ULL);
		assert_int_equal(res.error, -ECONNRESET);
		assert_string_equal(res.reason, side == 0 ? "client reset" : "backend reset");
		assert_int_equal(res.up, 5);
		assert_int_equal(res.down, 0);
		close(side == 0 ? q.backend : q.client);
		r = relay_free(r);
		pool = pipe_pool_free(pool);
	}
}

static void closedirp(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

static unsigned count_fds(void)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	unsigned n = 0;

	d = opendir("/proc/self/fd");
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	return n - 1; /* the DIR's own fd */
}

/* After traffic (small and bulk) an idle relay holds exactly its two sockets. */
static void test_idle_holds_two_fds(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *l = NULL;
	static uint8_t buf[4 << 20];
	struct pipe_pool *pool = NULL;
	struct relay *r = NULL;
	struct result res = {};
	unsigned before;
	size_t sent = 0, got = 0;
	struct quad q;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &l), 0);
	assert_int_equal(pipe_pool_new(4, &pool), 0);
	run_for(e, 1000); /* let sd-event open its epoll fd and whatever else it needs */
	make_quad(&q, true);
	set_nonblock(q.client);
	set_nonblock(q.backend);

	before = count_fds();
	assert_int_equal(relay_new(l, pool, RELAY_END_FD(q.rclient), RELAY_END_FD(q.rbackend),
				   on_done, &res, &r),
			 0);
	assert_int_equal(count_fds(), before);

	/* 4 MiB client -> backend, read by the test while the loop runs: the bulk path engages */
	memset(buf, 'x', sizeof(buf));
	while (got < sizeof(buf)) {
		ssize_t n;

		if (sent < sizeof(buf)) {
			n = write(q.client, buf + sent, sizeof(buf) - sent);
			if (n > 0)
				sent += (size_t)n;
		}
		assert_true(sd_event_run(e, 1000) >= 0);
		n = read(q.backend, buf, sizeof(buf) - got);
		if (n > 0)
			got += (size_t)n;
	}
	run_for(e, 10 * 1000);
	assert_false(res.finished);
	assert_true(pipe_pool_idle(pool) >= 1);
	/* idle: no source is ready, so the loop has nothing to dispatch (no wakeups) */
	assert_int_equal(sd_event_run(e, 50 * 1000), 0);
	/* the only extra fds are the pool's idle pipes, not the relay's */
	assert_int_equal(count_fds(), before + 2 * pipe_pool_idle(pool));
	pool = pipe_pool_free(pool);
	pool = NULL;
	assert_int_equal(pipe_pool_new(4, &pool), 0);
	assert_int_equal(count_fds(), before);
	relay_free(r);
	assert_int_equal(count_fds(), before - 2);
	close(q.client);
	close(q.backend);
	pool = pipe_pool_free(pool);
}

/* A relay whose client never reads must not hold up another relay on the same loop. */
static void test_stalled_reader(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *l = NULL;
	static uint8_t buf[1 << 20];
	struct pipe_pool *pool = NULL;
	struct relay *stalled = NULL, *busy = NULL;
	struct result rs = {}, rb = {};
	struct quad qs, qb;
	uint64_t pushed = 0;
	pid_t echo, client;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &l), 0);
	assert_int_equal(pipe_pool_new(4, &pool), 0);
	make_quad(&qs, true);
	set_nonblock(qs.backend);
	assert_int_equal(relay_new(l, pool, RELAY_END_FD(qs.rclient), RELAY_END_FD(qs.rbackend),
				   on_done, &rs, &stalled),
			 0);

	/* fill the stalled relay: the backend writes until every buffer on the way is full */
	memset(buf, 's', sizeof(buf));
	for (unsigned idle_rounds = 0; idle_rounds < 20;) {
		ssize_t n = write(qs.backend, buf, sizeof(buf));

		if (n > 0) {
			pushed += (uint64_t)n;
			idle_rounds = 0;
		} else {
			idle_rounds++;
		}
		assert_true(sd_event_run(e, 1000) >= 0);
	}
	assert_true(pushed > 0);

	make_quad(&qb, true);
	echo = fork_echo(qb.backend,
			 (int[]){ qb.client, qb.rclient, qb.rbackend, qs.client, qs.backend,
				  qs.rclient, qs.rbackend },
			 7);
	client = fork_client(qb.client, 16 << 20, 65536,
			     (int[]){ qb.backend, qb.rclient, qb.rbackend, qs.client, qs.backend,
				      qs.rclient, qs.rbackend },
			     7);
	close(qb.client);
	close(qb.backend);
	assert_int_equal(relay_new(l, pool, RELAY_END_FD(qb.rclient), RELAY_END_FD(qb.rbackend),
				   on_done, &rb, &busy),
			 0);
	run_until(e, &rb.finished, 60 * 1000 * 1000ULL);
	assert_int_equal(rb.error, 0);
	assert_int_equal(rb.up, 16 << 20);
	assert_int_equal(rb.down, 16 << 20);
	wait_ok(echo);
	wait_ok(client);

	/* the stalled one is still there, holding what it could not deliver */
	assert_false(rs.finished);
	relay_bytes(stalled, &rs.up, &rs.down);
	assert_true(rs.down < pushed);
	assert_int_equal(rs.up, 0);

	busy = relay_free(busy);
	stalled = relay_free(stalled);
	close(qs.client);
	close(qs.backend);
	pool = pipe_pool_free(pool);
}

/*
 * Many idle relays: what each one holds. An idle relay owns its two sockets and a small struct;
 * no pipe (those come from the pool only while bulk data flows) and no buffer (only a remainder
 * that could not be written is kept). Counted exactly: open fds, pipes in the pool, and the bytes
 * our code holds on the heap (see __wrap_malloc), so the bounds hold under ASan and valgrind too.
 */
static void test_idle_memory(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *l = NULL;
	struct pipe_pool *pool = NULL;
	enum { N = 200 };
	struct relay *r[N];
	struct result res[N];
	int ends[N][2], rends[N][2];
	unsigned fds_before;
	long long per;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &l), 0);
	assert_int_equal(pipe_pool_new(4, &pool), 0);
	memset(res, 0, sizeof(res));
	run_for(e, 1000); /* sd-event opens what it needs before anything is counted */
	/* sockets first, so their cost is not counted */
	for (unsigned i = 0; i < N; i++) {
		int a, b, c, d;

		unix_pair(&a, &b);
		unix_pair(&c, &d);
		set_nonblock(b);
		set_nonblock(c);
		ends[i][0] = a;
		ends[i][1] = d;
		rends[i][0] = b;
		rends[i][1] = c;
	}
	fds_before = count_fds();
	heap_live = 0;
	heap_counting = true;
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(relay_new(l, pool, RELAY_END_FD(rends[i][0]),
					   RELAY_END_FD(rends[i][1]), on_done, &res[i], &r[i]),
				 0);
		assert_int_equal(write(ends[i][0], "ping", 4), 4);
	}
	run_for(e, 20 * 1000);
	heap_counting = false;
	per = heap_live / N;
	print_message("idle relay: %lld bytes of heap each (our allocations, sd-event's not)\n",
		      per);
	/* the relay struct is counted: the wrapper works */
	assert_true(per > 0);
	/* no buffer held: a 64 KiB remainder buffer or a pipe per relay would blow this */
	assert_true(per <= 1024);
	/* no fd beyond the two sockets it was given, and no pipe held for an idle relay */
	assert_int_equal(count_fds(), fds_before);
	assert_true(pipe_pool_idle(pool) <= 4);
	for (unsigned i = 0; i < N; i++) {
		char buf[8];
		ssize_t n;

		set_nonblock(ends[i][1]);
		while ((n = read(ends[i][1], buf, sizeof(buf))) < 0 && errno == EAGAIN)
			assert_true(sd_event_run(e, 100 * 1000) >= 0);
		assert_int_equal(n, 4);
		r[i] = relay_free(r[i]);
		close(ends[i][0]);
		close(ends[i][1]);
	}
	pool = pipe_pool_free(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_1_byte),	   cmocka_unit_test(test_echo_100k),
		cmocka_unit_test(test_echo_64m_splice),	   cmocka_unit_test(test_unix_sockets),
		cmocka_unit_test(test_half_close),	   cmocka_unit_test(test_reset),
		cmocka_unit_test(test_idle_holds_two_fds), cmocka_unit_test(test_stalled_reader),
		cmocka_unit_test(test_idle_memory),
	};
	struct rlimit rl;

	/* splice() into a socket whose peer is gone raises SIGPIPE; the daemon ignores it too */
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
		rl.rlim_cur = 4096;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
