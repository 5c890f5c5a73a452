/* SPDX-License-Identifier: MIT */
/*
 * dockertool - small clients for bench/docker.sh (the docker-ns and trigger docker-run benchmark)
 *
 *   dockertool firstbyte PORT [TIMEOUT_S]
 *       connect to 127.0.0.1:PORT (TCP_NODELAY), send one byte, wait for the first reply byte;
 *       print "connect_ns=A connected_ns=B sent_ns=C first_byte_ns=D" (CLOCK_REALTIME ns: A before
 *       connect(), B after it returned, C after the byte was written, D when the reply arrived).
 *       Exit 1 on a failure or after TIMEOUT_S seconds (default 60) without a reply.
 *   dockertool stamp
 *       copy stdin to stdout line by line, each line prefixed with "REALTIME_NS " taken when the
 *       line was read (wormholed's log has no timestamps; its stderr is piped through this).
 *
 * CLOCK_REALTIME, not MONOTONIC, so the times compare with wh-echo --stamp inside a container and
 * with the Engine API's Created/StartedAt.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int firstbyte(int port, int timeout_s)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	long long t_connect, t_connected, t_sent, t_first;
	int fd, one = 1;
	char c = 'x';
	ssize_t n;

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		perror("dockertool: socket");
		return 1;
	}
	t_connect = now_ns();
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("dockertool: connect");
		return 1;
	}
	t_connected = now_ns();
	if (write(fd, &c, 1) != 1) {
		perror("dockertool: write");
		return 1;
	}
	t_sent = now_ns();
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, timeout_s * 1000);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "dockertool: no reply within %d s\n", timeout_s);
			return 1;
		}
		break;
	}
	n = read(fd, &c, 1);
	t_first = now_ns();
	if (n != 1) {
		fprintf(stderr, "dockertool: %s before the first reply byte\n",
			n == 0 ? "EOF" : strerror(errno));
		return 1;
	}
	printf("connect_ns=%lld connected_ns=%lld sent_ns=%lld first_byte_ns=%lld\n", t_connect,
	       t_connected, t_sent, t_first);
	close(fd);
	return 0;
}

static int stamp(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		printf("%lld %s%s", now_ns(), line, n > 0 && line[n - 1] == '\n' ? "" : "\n");
		fflush(stdout);
	}
	free(line);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "firstbyte") == 0)
		return firstbyte(atoi(argv[2]), argc == 4 ? atoi(argv[3]) : 60);
	if (argc == 2 && strcmp(argv[1], "stamp") == 0)
		return stamp();
	fputs("usage: dockertool firstbyte PORT [TIMEOUT_S] | dockertool stamp\n", stderr);
	return 2;
}
