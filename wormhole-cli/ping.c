/* SPDX-License-Identifier: MIT */
/*
 * ping.c - `wormhole ping` (round trip to the daemon in milliseconds: a bare number as the
 * original printed it, "0.142 ms" when stdout is a terminal) and `wormhole version`
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "ctl-proto.h"
#include "url.h"

int cmd_ping(int argc, char *argv[])
{
	struct ctl_reply rep = { 0 };
	struct timespec a, b;
	int ret;

	if (argc > 2) {
		fprintf(stderr, "Usage: wormhole ping [HOST[:PORT]]\n");
		return EXIT_USAGE;
	}
	if (argc == 2) {
		/* HOST's daemon over a peer link: the first request brings the link up, the
		 * second one is timed (the link, not its handshake, is what segments use) */
		_cleanup_free_ char *err = NULL;
		struct peer_addr pa = { 0 };

		if (peer_addr_parse(argv[1], false, &pa, &err) < 0) {
			fprintf(stderr, "wormhole: ping '%s': %s\n", argv[1], err ?: "invalid");
			return EXIT_USAGE;
		}
		cli_peer_host = strdup(pa.host && pa.host[0] ? pa.host : "127.0.0.1");
		cli_peer_port = pa.port;
		peer_addr_done(&pa);
		if (!cli_peer_host)
			return EXIT_FAIL;
		if (cli_call(&(struct ctl_request){ .op = CTL_OP_PING }, &rep) < 0)
			return EXIT_FAIL;
		ctl_reply_done(&rep);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (cli_call(&(struct ctl_request){ .op = CTL_OP_PING }, &rep) < 0)
		return EXIT_FAIL;
	clock_gettime(CLOCK_MONOTONIC, &b);
	ret = rep.ok ? EXIT_OK : EXIT_FAIL;
	if (rep.ok) {
		double ms =
			(double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;

		/* a script reads the bare number (as the original printed it); a person gets units */
		if (isatty(STDOUT_FILENO))
			printf("%.3f ms\n", ms);
		else
			printf("%f\n", ms);
	} else
		fprintf(stderr, "wormhole: ping: %s\n", rep.error ?: "failed");
	ctl_reply_done(&rep);
	return ret;
}

int cmd_version(int argc, char *argv[])
{
	struct ctl_reply rep = { 0 };
	int ret = EXIT_OK;

	printf("wormhole %s\n", WORMHOLE_VERSION);
	if (cli_call(&(struct ctl_request){ .op = CTL_OP_VERSION }, &rep) < 0)
		return EXIT_FAIL;
	if (rep.ok)
		printf("wormholed %s\n", rep.version ?: "?");
	else {
		fprintf(stderr, "wormhole: version: %s\n", rep.error ?: "failed");
		ret = EXIT_FAIL;
	}
	ctl_reply_done(&rep);
	return ret;
}
