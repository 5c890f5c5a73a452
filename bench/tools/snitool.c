/* SPDX-License-Identifier: MIT */
/*
 * snitool.c - load for bench/sni.sh: TLS-shaped connections without TLS crypto
 *
 * The proxy never terminates TLS, so what it costs per connection does not depend on the
 * handshake behind the ClientHello: only on the bytes it peeks at and relays. This tool sends a
 * real ClientHello (captured from openssl s_client, tests/unit/data/tls-hello/, hex) as the
 * first bytes of each connection, reads the backend's short answer until EOF and closes with a
 * reset (no TIME_WAIT on the load side), so the proxy under test sees the same bytes a TLS
 * client's first flight has, at a rate no real handshake would allow on one core.
 *
 *   snitool serve PORT                       backend: read what comes, answer "ok\n", close
 *   snitool load PORT SECONDS PROCS HEXFILE  PROCS processes, each one connection at a time;
 *                                            prints the connections completed and the failures
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int serve(int port)
{
	struct sockaddr_in a = addr(port);
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
	char buf[65536];

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4096) < 0) {
		perror("serve");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int c = accept(l, NULL, NULL);

		if (c < 0)
			continue;
		if (read(c, buf, sizeof(buf)) > 0)
			(void)!write(c, "ok\n", 3);
		close(c);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t load_hex(const char *path, unsigned char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int c, hi = -1;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF && n < cap) {
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
			continue;
		}
		out[n++] = (unsigned char)(hi << 4 | v);
		hi = -1;
	}
	fclose(f);
	return n;
}

static int load(int port, double secs, int procs, const char *hexfile)
{
	static unsigned char hello[20000];
	size_t len = load_hex(hexfile, hello, sizeof(hello));
	unsigned long *counts = mmap(NULL, 2 * (size_t)procs * sizeof(unsigned long),
				     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long ok = 0, bad = 0;

	if (len == 0 || counts == MAP_FAILED) {
		fprintf(stderr, "load: cannot read %s\n", hexfile);
		return 1;
	}
	for (int p = 0; p < procs; p++) {
		if (fork() != 0)
			continue;
		double end = now() + secs;
		struct sockaddr_in a = addr(port);
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		char buf[256];

		while (now() < end) {
			int s = socket(AF_INET, SOCK_STREAM, 0);
			ssize_t n, got = 0;

			if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
			    write(s, hello, len) != (ssize_t)len) {
				counts[2 * p + 1]++;
				close(s);
				continue;
			}
			while ((n = read(s, buf, sizeof(buf))) > 0)
				got += n;
			setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(s);
			counts[2 * p + (got == 3 ? 0 : 1)]++;
		}
		_exit(0);
	}
	while (wait(NULL) > 0)
		;
	for (int p = 0; p < procs; p++) {
		ok += counts[2 * p];
		bad += counts[2 * p + 1];
	}
	printf("%lu %lu\n", ok, bad);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(atoi(argv[2]));
	if (argc == 6 && strcmp(argv[1], "load") == 0)
		return load(atoi(argv[2]), atof(argv[3]), atoi(argv[4]), argv[5]);
	fprintf(stderr, "usage: snitool serve PORT | snitool load PORT SECONDS PROCS HEXFILE\n");
	return 2;
}
