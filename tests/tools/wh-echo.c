/* SPDX-License-Identifier: MIT */
/*
 * wh-echo - a tiny TCP echo server, forwarder and client for the Docker test image
 *
 * Built statically by tests/lib/images.sh and copied into wormhole-test/busybox as /bin/wh-echo.
 * busybox `nc -ll -e cat` serves one client at a time with a backlog of 2, which resets clients
 * when 20 arrive at once; this serves every connection in its own process with a backlog of 4096.
 *
 *   wh-echo PORT                        echo server on 0.0.0.0:PORT: echoes each connection until
 *                                       EOF, then closes it
 *   wh-echo --stamp PORT                the same, and once listen() succeeded it prints
 *                                       "listening REALTIME_NS" (CLOCK_REALTIME, nanoseconds) to
 *                                       stdout: bench/docker.sh reads it with `docker logs` to
 *                                       know when the container started accepting
 *   wh-echo --forward HOST:PORT PORT    on 0.0.0.0:PORT, relay each connection to HOST:PORT (IPv4),
 *                                       both ways, passing half-closes on
 *   wh-echo --connect HOST:PORT         client: stdin to HOST:PORT (shutdown for writing at EOF),
 *                                       the replies to stdout until the server closes; exit 0, or 1
 *                                       when the connection fails
 *
 * The servers exit 0 on SIGTERM or SIGINT (the container runs them under --init).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static int parse_port(const char *s)
{
	char *end;
	long p;

	errno = 0;
	p = strtol(s, &end, 10);
	if (errno || *end || end == s || p < 1 || p > 65535)
		return -1;
	return (int)p;
}

/* parse "A.B.C.D:PORT" into @sin */
static int parse_addr(const char *s, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	int port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = parse_port(colon + 1);
	if (port < 0)
		return -1;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	return 0;
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Copy both ways between (in0 -> out0) and (in1 -> out1) until both directions saw EOF. On EOF of
 * a direction, shutdown(SHUT_WR) its output when that is a socket (close for other fds). @in1 -1:
 * one direction only. @stop1: return as soon as direction 1 ends (the client: the server closed).
 */
static int relay(int in0, int out0, int in1, int out1, bool stop1)
{
	char buf[65536];
	bool open0 = true, open1 = in1 >= 0;

	while (open0 || open1) {
		struct pollfd p[2] = {
			{ .fd = open0 ? in0 : -1, .events = POLLIN },
			{ .fd = open1 ? in1 : -1, .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (int i = 0; i < 2; i++) {
			int in = i ? in1 : in0, out = i ? out1 : out0;
			ssize_t n;

			if (!p[i].revents)
				continue;
			n = read(in, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno != ECONNRESET)
				return -1;
			if (n <= 0) {
				if (shutdown(out, SHUT_WR) < 0 && errno == ENOTSOCK)
					close(out);
				if (i && stop1)
					return 0;
				if (i)
					open1 = false;
				else
					open0 = false;
				continue;
			}
			if (write_all(out, buf, (size_t)n) < 0)
				return -1;
		}
	}
	return 0;
}

static int connect_to(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int serve(int port, const struct sockaddr_in *forward, bool stamp)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	int one = 1, lfd;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 4096) < 0) {
		perror("wh-echo: listen");
		return 1;
	}
	if (stamp) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		printf("listening %lld%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
		fflush(stdout);
	}
	/* no zombies: children are never waited for */
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pid_t pid;

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
			    errno == ENFILE) {
				if (errno != EINTR && errno != ECONNABORTED)
					usleep(10000);
				continue;
			}
			perror("wh-echo: accept");
			return 1;
		}
		pid = fork();
		if (pid < 0) {
			close(cfd);
			usleep(10000);
			continue;
		}
		if (pid == 0) {
			int r, ufd;

			close(lfd);
			if (!forward)
				_exit(relay(cfd, cfd, -1, -1, false) < 0 ? 1 : 0);
			ufd = connect_to(forward);
			if (ufd < 0) {
				perror("wh-echo: connect");
				_exit(1);
			}
			r = relay(cfd, ufd, ufd, cfd, false);
			_exit(r < 0 ? 1 : 0);
		}
		close(cfd);
	}
}

static int client(const struct sockaddr_in *sin)
{
	int fd;

	signal(SIGPIPE, SIG_IGN);
	fd = connect_to(sin);
	if (fd < 0) {
		perror("wh-echo: connect");
		return 1;
	}
	return relay(STDIN_FILENO, fd, fd, STDOUT_FILENO, true) < 0 ? 1 : 0;
}

static int usage(void)
{
	fputs("usage: wh-echo [--stamp] PORT | wh-echo --forward HOST:PORT PORT | wh-echo "
	      "--connect HOST:PORT\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_in target;
	int port;

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (argc == 2) {
		port = parse_port(argv[1]);
		return port < 0 ? usage() : serve(port, NULL, false);
	}
	if (argc == 3 && strcmp(argv[1], "--stamp") == 0) {
		port = parse_port(argv[2]);
		return port < 0 ? usage() : serve(port, NULL, true);
	}
	if (argc == 3 && strcmp(argv[1], "--connect") == 0)
		return parse_addr(argv[2], &target) < 0 ? usage() : client(&target);
	if (argc == 4 && strcmp(argv[1], "--forward") == 0) {
		port = parse_port(argv[3]);
		if (port < 0 || parse_addr(argv[2], &target) < 0)
			return usage();
		return serve(port, &target, false);
	}
	return usage();
}
