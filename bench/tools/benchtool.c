/* SPDX-License-Identifier: MIT */
/*
 * benchtool: the small load generators and backends that bench/run.sh needs and that no Debian
 * package offers in a measurable form. One binary, four modes:
 *
 *   benchtool echo PORT              echo server on 127.0.0.1:PORT (epoll, one thread)
 *   benchtool holdsrv PORT           accepts on 127.0.0.1:PORT, writes one byte to every new
 *                                    connection and keeps it open forever
 *   benchtool hold PORT N            opens N connections to 127.0.0.1:PORT (at most 256 connecting
 *                                    at a time), waits for the byte holdsrv sends on each (so the
 *                                    whole path through the proxy is established), prints
 *                                    "READY ok=X failed=Y" and holds them; on SIGUSR1 prints
 *                                    "ALIVE n" (connections still open); exits on SIGTERM
 *   benchtool rtt PORT N             one connection to an echo server on 127.0.0.1:PORT, TCP_NODELAY,
 *                                    1000 warm-up round trips, then N timed 1-byte round trips
 *                                    (clock_gettime(CLOCK_MONOTONIC)); prints "p50_us=.. p99_us=.."
 *
 * Only loopback (127.0.0.1) is ever used. Built by bench/run.sh with `cc -O2`, not by meson.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "benchtool: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	return a;
}

static int listen_on(int port)
{
	struct sockaddr_in a = loopback(port);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

static _Noreturn void mode_echo(int port)
{
	int lfd = listen_on(port);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
	char buf[65536];

	raise_nofile();
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll");
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				int one = 1;

				if (c < 0)
					continue;
				(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = c };
				(void)epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				continue;
			}
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r <= 0) {
				close(fd);
				continue;
			}
			/* Blocking socket: a short echo of small messages never blocks for long. */
			for (ssize_t off = 0; off < r;) {
				ssize_t w = write(fd, buf + off, r - off);
				if (w < 0)
					break;
				off += w;
			}
		}
	}
}

static _Noreturn void mode_holdsrv(int port)
{
	int lfd;

	raise_nofile();
	lfd = listen_on(port);
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EMFILE || errno == ENFILE)
				sleep(1);
			continue;
		}
		(void)write(c, "x", 1); /* and keep c open on purpose */
	}
}

static volatile sig_atomic_t got_usr1, got_term;
static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

enum { C_IDLE, C_CONNECTING, C_WAITBYTE, C_OK, C_FAILED };

static int mode_hold(int port, int n)
{
	struct sockaddr_in a = loopback(port);
	int *fd = calloc(n, sizeof(int));
	int *st = calloc(n, sizeof(int));
	struct pollfd *pfd = calloc(n, sizeof(struct pollfd));
	int *idx = calloc(n, sizeof(int));
	int next = 0, ok = 0, failed = 0, inflight = 0;
	int e_refused = 0, e_reset = 0, e_eof = 0, e_other = 0, e_timeout = 0;
	double deadline;

	if (!fd || !st || !pfd || !idx)
		die("calloc");
	raise_nofile();
	signal(SIGUSR1, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	deadline = now_s() + 60;

	while (ok + failed < n) {
		int m = 0;

		while (next < n && inflight < 256) {
			int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (s < 0) {
				e_other++;
				failed++;
				st[next++] = C_FAILED;
				continue;
			}
			fd[next] = s;
			if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 &&
			    errno != EINPROGRESS) {
				if (errno == ECONNREFUSED)
					e_refused++;
				else
					e_other++;
				close(s);
				failed++;
				st[next++] = C_FAILED;
				continue;
			}
			st[next++] = C_CONNECTING;
			inflight++;
		}
		for (int i = 0; i < next; i++) {
			if (st[i] == C_CONNECTING)
				pfd[m] = (struct pollfd){ .fd = fd[i], .events = POLLOUT };
			else if (st[i] == C_WAITBYTE)
				pfd[m] = (struct pollfd){ .fd = fd[i], .events = POLLIN };
			else
				continue;
			idx[m++] = i;
		}
		if (m == 0)
			continue;
		if (now_s() > deadline) {
			for (int j = 0; j < m; j++) {
				close(fd[idx[j]]);
				st[idx[j]] = C_FAILED;
				failed++;
				e_timeout++;
			}
			inflight = 0;
			continue;
		}
		if (poll(pfd, m, 200) < 0 && errno != EINTR)
			die("poll");
		for (int j = 0; j < m; j++) {
			int i = idx[j], err = 0;
			socklen_t len = sizeof(err);
			char b;

			if (!pfd[j].revents)
				continue;
			if (st[i] == C_CONNECTING) {
				(void)getsockopt(fd[i], SOL_SOCKET, SO_ERROR, &err, &len);
				if (err == 0) {
					st[i] = C_WAITBYTE;
					continue;
				}
				if (err == ECONNREFUSED)
					e_refused++;
				else if (err == ECONNRESET)
					e_reset++;
				else
					e_other++;
			} else {
				ssize_t r = read(fd[i], &b, 1);
				if (r == 1) {
					st[i] = C_OK;
					ok++;
					inflight--;
					continue;
				}
				if (r == 0)
					e_eof++;
				else if (errno == ECONNRESET)
					e_reset++;
				else
					e_other++;
			}
			close(fd[i]);
			st[i] = C_FAILED;
			failed++;
			inflight--;
		}
	}
	printf("READY ok=%d failed=%d refused=%d reset=%d eof=%d timeout=%d other=%d\n", ok, failed,
	       e_refused, e_reset, e_eof, e_timeout, e_other);
	fflush(stdout);

	while (!got_term) {
		pause();
		if (got_usr1) {
			int alive = 0;

			got_usr1 = 0;
			for (int i = 0; i < n; i++) {
				struct pollfd p = { .fd = fd[i], .events = POLLIN | POLLRDHUP };

				if (st[i] != C_OK)
					continue;
				if (poll(&p, 1, 0) == 0)
					alive++;
			}
			printf("ALIVE %d\n", alive);
			fflush(stdout);
		}
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int mode_rtt(int port, int n)
{
	struct sockaddr_in a = loopback(port);
	int one = 1;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	double *t = calloc(n, sizeof(double));
	char b = 'x';

	if (s < 0 || !t)
		die("socket");
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (int i = -1000; i < n; i++) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (write(s, &b, 1) != 1)
			die("write");
		if (read(s, &b, 1) != 1) {
			errno = errno ? errno : ECONNRESET;
			die("read");
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (i >= 0)
			t[i] = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
	}
	qsort(t, n, sizeof(double), cmp_double);
	printf("p50_us=%.1f p99_us=%.1f\n", t[n / 2], t[(int)(n * 0.99)]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "echo") == 0)
		mode_echo(atoi(argv[2]));
	if (argc >= 3 && strcmp(argv[1], "holdsrv") == 0)
		mode_holdsrv(atoi(argv[2]));
	if (argc >= 4 && strcmp(argv[1], "hold") == 0)
		return mode_hold(atoi(argv[2]), atoi(argv[3]));
	if (argc >= 4 && strcmp(argv[1], "rtt") == 0)
		return mode_rtt(atoi(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: benchtool echo PORT | holdsrv PORT | hold PORT N | rtt PORT N\n");
	return 2;
}
