/* SPDX-License-Identifier: MIT */
/*
 * test-connector.c - the retrying non-blocking connect, against real loopback sockets
 *
 * A TCP socket that is bound but not listening refuses connections, which stands in for a
 * backend that is still starting; a timer on the same loop starts listening later. The namespace
 * test listens inside a fresh network namespace made by a forked child and connects through its
 * /proc/PID/ns/net.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "connector.h"
#include "ioloop.h"
#include "netns.h"

DEFINE_POINTER_CLEANUP(struct ioloop *, ioloop_free)

struct outcome {
	bool finished;
	int fd;
	uint64_t at; /* CLOCK_MONOTONIC usec */
	struct connector *c;
};

static void on_done(struct connector *c, int fd, void *userdata)
{
	struct outcome *o = userdata;
	struct timespec ts;

	assert_false(o->finished);
	assert_ptr_equal(c, o->c);
	o->finished = true;
	o->fd = fd;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	o->at = (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
	o->c = connector_free(c); /* the callback may free it */
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static void run_until(sd_event *e, const bool *flag, uint64_t max_usec)
{
	uint64_t start = now_usec();

	while (!*flag) {
		assert_true(sd_event_run(e, 100 * 1000) >= 0);
		assert_true(now_usec() - start < max_usec);
	}
}

/* A TCP socket bound to 127.0.0.1:ephemeral, not listening: connects to it are refused. */
static int bound_socket(struct sockaddr_in *ret)
{
	socklen_t len = sizeof(*ret);
	int fd;

	*ret = (struct sockaddr_in){ .sin_family = AF_INET,
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)ret, sizeof(*ret)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)ret, &len), 0);
	return fd;
}

static int on_listen_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	int *fd = userdata;

	assert_int_equal(listen(*fd, 8), 0);
	return 0;
}

static void test_refused_then_listening(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *loop = NULL;
	_cleanup_close_ int l = -EBADF, a = -EBADF;
	struct outcome o = {};
	struct sockaddr_in sin, peer, local;
	socklen_t len = sizeof(peer);
	uint64_t start;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &loop), 0);
	l = bound_socket(&sin);
	start = now_usec();
	assert_int_equal(sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 300 * 1000, 1,
						    on_listen_timer, &l),
			 0);
	assert_int_equal(connector_new(loop, -1, (struct sockaddr *)&sin, sizeof(sin), SOCK_STREAM,
				       5 * 1000 * 1000, on_done, &o, &o.c),
			 0);
	run_until(e, &o.finished, 10 * 1000 * 1000);
	assert_true(o.fd >= 0);
	/* connected after the listen, well before the timeout; retries are at most 250 ms apart */
	assert_true(o.at - start >= 300 * 1000);
	assert_true(o.at - start < 700 * 1000);
	assert_true(fcntl(o.fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(o.fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(getpeername(o.fd, (struct sockaddr *)&peer, &len), 0);
	assert_int_equal(peer.sin_port, sin.sin_port);
	a = accept4(l, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	assert_true(a >= 0);
	len = sizeof(local);
	assert_int_equal(getsockname(o.fd, (struct sockaddr *)&local, &len), 0);
	assert_int_equal(local.sin_port, peer.sin_port);
	close(o.fd);
}

static void test_never_listening_times_out(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *loop = NULL;
	_cleanup_close_ int l = -EBADF;
	struct outcome o = {};
	struct sockaddr_in sin;
	uint64_t start;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &loop), 0);
	l = bound_socket(&sin);
	start = now_usec();
	assert_int_equal(connector_new(loop, -1, (struct sockaddr *)&sin, sizeof(sin), SOCK_STREAM,
				       600 * 1000, on_done, &o, &o.c),
			 0);
	run_until(e, &o.finished, 5 * 1000 * 1000);
	assert_int_equal(o.fd, -ETIMEDOUT);
	assert_true(o.at - start >= 600 * 1000);
	assert_true(o.at - start < 800 * 1000);
}

/* Even a connect that succeeds at once reports from the loop, never from connector_new(). */
static void test_done_not_called_from_new(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *loop = NULL;
	_cleanup_close_ int l = -EBADF;
	struct outcome o = {};
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/test-connector-XXXXXX";

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &loop), 0);
	assert_non_null(mkdtemp(dir));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/sock", dir);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(l, 8), 0);
	assert_int_equal(connector_new(loop, -1, (struct sockaddr *)&sun, sizeof(sun), SOCK_STREAM,
				       1000 * 1000, on_done, &o, &o.c),
			 0);
	assert_false(o.finished);
	run_until(e, &o.finished, 2 * 1000 * 1000);
	assert_true(o.fd >= 0);
	close(o.fd);
	unlink(sun.sun_path);
	rmdir(dir);
}

static int on_bind_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	const struct sockaddr_un *sun = userdata;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (const struct sockaddr *)sun, sizeof(*sun)), 0);
	assert_int_equal(listen(fd, 8), 0);
	(void)sd_event_source_set_userdata(s, (void *)(intptr_t)fd);
	return 0;
}

/* A unix socket that does not exist yet (ENOENT) is waited for, like a refusal. */
static void test_unix_enoent_then_listening(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *loop = NULL;
	_cleanup_(sd_event_source_unrefp) sd_event_source *t = NULL;
	struct outcome o = {};
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/test-connector-XXXXXX";
	uint64_t start;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &loop), 0);
	assert_non_null(mkdtemp(dir));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/sock", dir);
	start = now_usec();
	assert_int_equal(sd_event_add_time_relative(e, &t, CLOCK_MONOTONIC, 200 * 1000, 1,
						    on_bind_timer, &sun),
			 0);
	assert_int_equal(connector_new(loop, -1, (struct sockaddr *)&sun, sizeof(sun), SOCK_STREAM,
				       3 * 1000 * 1000, on_done, &o, &o.c),
			 0);
	run_until(e, &o.finished, 5 * 1000 * 1000);
	assert_true(o.fd >= 0);
	assert_true(o.at - start >= 200 * 1000);
	assert_true(o.at - start < 600 * 1000);
	close(o.fd);
	close((int)(intptr_t)sd_event_source_get_userdata(t));
	unlink(sun.sun_path);
	rmdir(dir);
}

/* Errors other than a refusal end at once. */
static void test_other_error_at_once(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *loop = NULL;
	struct outcome o = {};
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/etc/passwd/not-a-dir" };
	uint64_t start = now_usec();

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &loop), 0);
	assert_int_equal(connector_new(loop, -1, (struct sockaddr *)&sun, sizeof(sun), SOCK_STREAM,
				       5 * 1000 * 1000, on_done, &o, &o.c),
			 0);
	run_until(e, &o.finished, 1000 * 1000);
	assert_int_equal(o.fd, -ENOTDIR);
	assert_true(o.at - start < 100 * 1000);
}

static void test_invalid(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *loop = NULL;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct connector *c = NULL;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &loop), 0);
	assert_int_equal(connector_new(loop, -1, (struct sockaddr *)&sin, sizeof(sin), SOCK_RAW,
				       1000, on_done, NULL, &c),
			 -EINVAL);
	assert_int_equal(connector_new(loop, -1, (struct sockaddr *)&sin, 1, SOCK_STREAM, 1000,
				       on_done, NULL, &c),
			 -EINVAL);
	assert_null(c);
}

static void test_udp_and_cancel(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *loop = NULL;
	_cleanup_close_ int l = -EBADF;
	struct outcome o = {};
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	char buf[8];

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &loop), 0);
	l = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(connector_new(loop, -1, (struct sockaddr *)&sin, sizeof(sin), SOCK_DGRAM,
				       1000 * 1000, on_done, &o, &o.c),
			 0);
	run_until(e, &o.finished, 1000 * 1000);
	assert_true(o.fd >= 0);
	assert_int_equal(send(o.fd, "dgram", 5, 0), 5);
	assert_int_equal(recv(l, buf, sizeof(buf), 0), 5);
	close(o.fd);

	/* cancelled while retrying: no callback, nothing leaks (valgrind) */
	{
		struct sockaddr_in refusing;
		_cleanup_close_ int b = bound_socket(&refusing);
		struct outcome p = {};
		uint64_t start = now_usec();

		assert_int_equal(connector_new(loop, -1, (struct sockaddr *)&refusing,
					       sizeof(refusing), SOCK_STREAM, 5 * 1000 * 1000,
					       on_done, &p, &p.c),
				 0);
		while (now_usec() - start < 100 * 1000)
			assert_true(sd_event_run(e, 10 * 1000) >= 0);
		assert_false(p.finished);
		p.c = connector_free(p.c);
	}
}

/* Child: new netns, lo up, listen on 127.0.0.1:port, tell the parent, accept one, answer "ns". */
static pid_t fork_ns_server(int *ret_ready, uint16_t *ret_port)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		struct ifreq ifr = { .ifr_name = "lo" };
		socklen_t len = sizeof(sin);
		int s, l, a;

		close(p[0]);
		alarm(10); /* never outlive a failed test */
		if (unshare(CLONE_NEWNET) < 0) {
			(void)!write(p[1], "E", 1);
			_exit(77);
		}
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
			_exit(2);
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			_exit(3);
		l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
		    listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&sin, &len) < 0)
			_exit(4);
		if (write(p[1], "R", 1) != 1 || write(p[1], &sin.sin_port, 2) != 2)
			_exit(5);
		a = accept(l, NULL, NULL);
		if (a < 0 || write(a, "ns", 2) != 2)
			_exit(6);
		_exit(0);
	}
	close(p[1]);
	*ret_ready = p[0];
	return pid;
}

static void test_connect_in_namespace(void **state)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ioloop_freep) struct ioloop *loop = NULL;
	_cleanup_close_ int ready = -EBADF, nsfd = -EBADF, probe = -EBADF;
	struct outcome o = {};
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char c, buf[4];
	int status;
	pid_t pid;

	pid = fork_ns_server(&ready, &sin.sin_port);
	assert_int_equal(read(ready, &c, 1), 1);
	if (c == 'E') {
		assert_int_equal(waitpid(pid, &status, 0), pid);
		skip(); /* no CAP_SYS_ADMIN */
	}
	assert_int_equal(c, 'R');
	assert_int_equal(read(ready, &sin.sin_port, 2), 2);
	nsfd = netns_open_pid(pid);
	assert_true(nsfd >= 0);

	/* the port exists only in the child's namespace: here it is refused */
	probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(probe, (struct sockaddr *)&sin, sizeof(sin)), -1);
	assert_int_equal(errno, ECONNREFUSED);

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(ioloop_new(e, &loop), 0);
	assert_int_equal(connector_new(loop, nsfd, (struct sockaddr *)&sin, sizeof(sin),
				       SOCK_STREAM, 2 * 1000 * 1000, on_done, &o, &o.c),
			 0);
	run_until(e, &o.finished, 3 * 1000 * 1000);
	assert_true(o.fd >= 0);
	assert_int_equal(fcntl(o.fd, F_SETFL, 0), 0);
	assert_int_equal(read(o.fd, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "ns", 2);
	close(o.fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* we are still in our own namespace */
	assert_true(netns_same(-1, -1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_then_listening),
		cmocka_unit_test(test_never_listening_times_out),
		cmocka_unit_test(test_done_not_called_from_new),
		cmocka_unit_test(test_unix_enoent_then_listening),
		cmocka_unit_test(test_other_error_at_once),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_udp_and_cancel),
		cmocka_unit_test(test_connect_in_namespace),
	};

	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(netns_init(), 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
