/* SPDX-License-Identifier: MIT */
/*
 * test-udp-relay.c - UDP sessions on real loopback sockets
 *
 * The backend is a UDP echo socket served on the same sd-event loop; clients are plain UDP
 * sockets connected to the relay's listening address, so they only accept replies that come
 * from it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "sockaddr.h"
#include "udp-relay.h"

struct fixture {
	sd_event *e;
	sd_event_source *echo_io;
	int echo_fd;
	struct sockaddr_in echo_addr;
	struct sockaddr_in listen_addr;
	struct udp_relay *u;
	bool attach_now;
	unsigned opened, done;
	struct udp_session *last_open;
	int last_error;
	const char *last_reason;
	uint64_t last_up, last_down;
	unsigned echoed;
	struct sockaddr_in echo_peers[4];
	unsigned n_echo_peers;
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static int udp_socket(struct sockaddr_in *bind_to)
{
	socklen_t len = sizeof(*bind_to);
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	*bind_to = (struct sockaddr_in){ .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)bind_to, sizeof(*bind_to)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)bind_to, &len), 0);
	return fd;
}

static int client_socket(struct fixture *f)
{
	struct sockaddr_in sin;
	int fd = udp_socket(&sin);

	assert_int_equal(connect(fd, (struct sockaddr *)&f->listen_addr, sizeof(f->listen_addr)),
			 0);
	return fd;
}

static int on_echo(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct fixture *f = userdata;
	static char buf[65536];
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	ssize_t n;

	while ((n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len)) >= 0) {
		bool known = false;

		for (unsigned i = 0; i < f->n_echo_peers; i++)
			known |= sockaddr_equal((struct sockaddr *)&f->echo_peers[i], sizeof(from),
						(struct sockaddr *)&from, len);
		if (!known && f->n_echo_peers < ELEMENTSOF(f->echo_peers))
			f->echo_peers[f->n_echo_peers++] = from;
		assert_int_equal(sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len), n);
		f->echoed++;
		len = sizeof(from);
	}
	return 0;
}

static int backend_socket(struct fixture *f)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&f->echo_addr, sizeof(f->echo_addr)), 0);
	return fd;
}

static void on_open(struct udp_relay *u, struct udp_session *s, void *userdata)
{
	struct fixture *f = userdata;
	socklen_t len;
	const struct sockaddr *sa = udp_session_client(s, &len);

	assert_int_equal(sa->sa_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	f->opened++;
	f->last_open = s;
	udp_session_set_userdata(s, f);
	if (f->attach_now)
		assert_int_equal(udp_session_attach(s, backend_socket(f)), 0);
}

static void on_session_done(struct udp_relay *u, struct udp_session *s, int error,
			    const char *reason, void *userdata)
{
	struct fixture *f = userdata;

	assert_ptr_equal(udp_session_get_userdata(s), f);
	f->done++;
	f->last_error = error;
	f->last_reason = reason;
	udp_session_bytes(s, &f->last_up, &f->last_down);
	if (f->last_open == s)
		f->last_open = NULL;
}

static const struct udp_relay_ops ops = {
	.session_open = on_open,
	.session_done = on_session_done,
};

static void fixture_start(struct fixture *f, uint64_t idle_usec, unsigned max_sessions,
			  bool attach_now)
{
	int l;

	*f = (struct fixture){ .attach_now = attach_now };
	assert_int_equal(sd_event_new(&f->e), 0);
	f->echo_fd = udp_socket(&f->echo_addr);
	assert_int_equal(sd_event_add_io(f->e, &f->echo_io, f->echo_fd, EPOLLIN, on_echo, f), 0);
	l = udp_socket(&f->listen_addr);
	assert_int_equal(udp_relay_new(f->e, l, idle_usec, max_sessions, &ops, f, &f->u), 0);
}

static void fixture_stop(struct fixture *f)
{
	f->u = udp_relay_free(f->u);
	f->echo_io = sd_event_source_disable_unref(f->echo_io);
	close(f->echo_fd);
	f->e = sd_event_unref(f->e);
}

static void run_for(struct fixture *f, uint64_t usec)
{
	uint64_t start = now_usec();

	while (now_usec() - start < usec)
		assert_true(sd_event_run(f->e, 5 * 1000) >= 0);
}

/* Runs the loop until nothing is pending (sd_event_run() dispatches one source per call). */
static void drain(struct fixture *f)
{
	int r;

	while ((r = sd_event_run(f->e, 0)) > 0)
		;
	assert_true(r >= 0);
}

/* Runs the loop until @fd has a datagram; returns its size. */
static ssize_t recv_reply(struct fixture *f, int fd, void *buf, size_t size)
{
	uint64_t start = now_usec();
	ssize_t n;

	while ((n = recv(fd, buf, size, MSG_TRUNC)) < 0) {
		assert_int_equal(errno, EAGAIN);
		assert_true(sd_event_run(f->e, 5 * 1000) >= 0);
		assert_true(now_usec() - start < 5 * 1000 * 1000);
	}
	return n;
}

static void test_echo_small_and_64k(void **state)
{
	static char out[65000], in[65536];
	struct fixture f;
	int c;

	fixture_start(&f, 10 * 1000 * 1000, 16, true);
	c = client_socket(&f);

	assert_int_equal(send(c, "x", 1, 0), 1);
	assert_int_equal(recv_reply(&f, c, in, sizeof(in)), 1);
	assert_int_equal(in[0], 'x');

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + 3);
	assert_int_equal(send(c, out, sizeof(out), 0), sizeof(out));
	assert_int_equal(recv_reply(&f, c, in, sizeof(in)), sizeof(out)); /* whole, one datagram */
	assert_memory_equal(in, out, sizeof(out));

	assert_int_equal(f.opened, 1);
	assert_int_equal(udp_relay_sessions(f.u), 1);
	fixture_stop(&f);
	/* freeing the relay ends the session and reports its byte counts */
	assert_int_equal(f.done, 1);
	assert_int_equal(f.last_error, 0);
	assert_int_equal(f.last_up, 1 + sizeof(out));
	assert_int_equal(f.last_down, 1 + sizeof(out));
	close(c);
}

static void test_two_clients(void **state)
{
	struct fixture f;
	char buf[16];
	int a, b;

	fixture_start(&f, 10 * 1000 * 1000, 16, true);
	a = client_socket(&f);
	b = client_socket(&f);
	for (unsigned round = 0; round < 3; round++) {
		assert_int_equal(send(a, "from-a", 6, 0), 6);
		assert_int_equal(send(b, "from-b!", 7, 0), 7);
		assert_int_equal(recv_reply(&f, a, buf, sizeof(buf)), 6);
		assert_memory_equal(buf, "from-a", 6);
		assert_int_equal(recv_reply(&f, b, buf, sizeof(buf)), 7);
		assert_memory_equal(buf, "from-b!", 7);
	}
	assert_int_equal(f.opened, 2);
	assert_int_equal(udp_relay_sessions(f.u), 2);
	/* each session has its own backend socket */
	assert_int_equal(f.n_echo_peers, 2);
	assert_int_equal(f.echoed, 6);
	fixture_stop(&f);
	assert_int_equal(f.done, 2);
	close(a);
	close(b);
}

static void test_idle_timeout(void **state)
{
	struct fixture f;
	char buf[16];
	uint64_t start, last = 0;
	int c;

	fixture_start(&f, 200 * 1000, 16, true);
	c = client_socket(&f);
	/* traffic every 100 ms keeps the session */
	start = now_usec();
	while (now_usec() - start < 600 * 1000) {
		assert_int_equal(send(c, "k", 1, 0), 1);
		assert_int_equal(recv_reply(&f, c, buf, sizeof(buf)), 1);
		last = now_usec();
		run_for(&f, 100 * 1000);
	}
	assert_int_equal(f.opened, 1);
	assert_int_equal(f.done, 0);
	/* then silence: it ends after the idle time, within the accuracy (20 ms) plus slack */
	while (f.done == 0) {
		assert_true(sd_event_run(f.e, 5 * 1000) >= 0);
		assert_true(now_usec() - last < 400 * 1000);
	}
	assert_true(now_usec() - last >= 190 * 1000); /* the relay saw the reply a bit earlier */
	assert_int_equal(f.last_error, 0);
	assert_string_equal(f.last_reason, "idle timeout");
	assert_int_equal(udp_relay_sessions(f.u), 0);
	/* a new datagram opens a new session */
	assert_int_equal(send(c, "n", 1, 0), 1);
	assert_int_equal(recv_reply(&f, c, buf, sizeof(buf)), 1);
	assert_int_equal(f.opened, 2);
	fixture_stop(&f);
	close(c);
}

static void test_pending_queue_then_attach(void **state)
{
	struct fixture f;
	char buf[16];
	int c;

	fixture_start(&f, 10 * 1000 * 1000, 16, false);
	c = client_socket(&f);
	for (unsigned i = 0; i < 20; i++) {
		snprintf(buf, sizeof(buf), "q%02u", i);
		assert_int_equal(send(c, buf, 3, 0), 3);
	}
	run_for(&f, 50 * 1000);
	assert_int_equal(f.opened, 1);
	assert_non_null(f.last_open);
	assert_int_equal(f.echoed, 0);

	assert_int_equal(udp_session_attach(f.last_open, backend_socket(&f)), 0);
	/* the first 16 arrive, in order; the excess was dropped */
	for (unsigned i = 0; i < 16; i++) {
		char want[4];

		snprintf(want, sizeof(want), "q%02u", i);
		assert_int_equal(recv_reply(&f, c, buf, sizeof(buf)), 3);
		assert_memory_equal(buf, want, 3);
	}
	run_for(&f, 50 * 1000);
	assert_int_equal(recv(c, buf, sizeof(buf), 0), -1);
	assert_int_equal(f.echoed, 16);
	/* and traffic flows on normally */
	assert_int_equal(send(c, "after", 5, 0), 5);
	assert_int_equal(recv_reply(&f, c, buf, sizeof(buf)), 5);
	fixture_stop(&f);
	assert_int_equal(f.last_up, 16 * 3 + 5);
	close(c);
}

static void test_fail_pending(void **state)
{
	struct fixture f;
	char buf[16];
	int c;

	fixture_start(&f, 10 * 1000 * 1000, 16, false);
	c = client_socket(&f);
	assert_int_equal(send(c, "a", 1, 0), 1);
	assert_int_equal(send(c, "b", 1, 0), 1);
	run_for(&f, 30 * 1000);
	assert_non_null(f.last_open);
	udp_session_fail(f.last_open, -EHOSTUNREACH, "trigger failed");
	assert_int_equal(f.done, 1);
	assert_int_equal(f.last_error, -EHOSTUNREACH);
	assert_string_equal(f.last_reason, "trigger failed");
	assert_int_equal(f.last_up, 0);
	assert_int_equal(udp_relay_sessions(f.u), 0);
	assert_int_equal(f.echoed, 0);
	assert_int_equal(recv(c, buf, sizeof(buf), 0), -1);
	fixture_stop(&f);
	assert_int_equal(f.done, 1);
	close(c);
}

static void test_max_sessions(void **state)
{
	struct fixture f;
	char buf[16];
	int a, b;

	fixture_start(&f, 10 * 1000 * 1000, 1, true);
	a = client_socket(&f);
	b = client_socket(&f);
	assert_int_equal(send(a, "a", 1, 0), 1);
	assert_int_equal(recv_reply(&f, a, buf, sizeof(buf)), 1);
	assert_int_equal(send(b, "b", 1, 0), 1);
	run_for(&f, 50 * 1000);
	assert_int_equal(recv(b, buf, sizeof(buf), 0), -1);
	assert_int_equal(f.opened, 1);
	assert_int_equal(udp_relay_sessions(f.u), 1);
	fixture_stop(&f);
	close(a);
	close(b);
}

/* Thousands of clients: every one gets its own session and its own reply. */
static void test_many_sessions(void **state)
{
	enum { N = 1500 };
	static int c[N];
	struct mallinfo2 before, after;
	struct fixture f;
	uint64_t start;
	char buf[16];

	fixture_start(&f, 10 * 1000 * 1000, N, true);
	for (unsigned i = 0; i < N; i++)
		c[i] = client_socket(&f);
	before = mallinfo2();
	start = now_usec();
	for (unsigned i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "%u", i);
		assert_int_equal(send(c[i], buf, strlen(buf), 0), (ssize_t)strlen(buf));
		/* keep well below what the sockets' receive buffers hold */
		if (i % 32 == 31)
			drain(&f);
	}
	for (unsigned i = 0; i < N; i++) {
		char want[16];
		ssize_t n;

		snprintf(want, sizeof(want), "%u", i);
		n = recv_reply(&f, c[i], buf, sizeof(buf));
		assert_int_equal(n, (ssize_t)strlen(want));
		assert_memory_equal(buf, want, (size_t)n);
	}
	after = mallinfo2();
	print_message("%u sessions in %" PRIu64 " ms, %zu bytes of heap each\n", N,
		      (now_usec() - start) / 1000, (after.uordblks - before.uordblks) / N);
	assert_int_equal(udp_relay_sessions(f.u), N);
	assert_int_equal(f.opened, N);
	fixture_stop(&f);
	assert_int_equal(f.done, N);
	for (unsigned i = 0; i < N; i++)
		close(c[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_small_and_64k),
		cmocka_unit_test(test_two_clients),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_pending_queue_then_attach),
		cmocka_unit_test(test_fail_pending),
		cmocka_unit_test(test_max_sessions),
		cmocka_unit_test(test_many_sessions),
	};
	struct rlimit rl;

	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
		rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
