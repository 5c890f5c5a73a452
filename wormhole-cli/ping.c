/* SPDX-License-Identifier: MIT */
/*
 * ping.c - `wormhole ping` (round trip to the daemon in ms, as the original printed it) and
 * `wormhole version`
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "ctl-proto.h"

int cmd_ping(int argc, char *argv[])
{
	struct ctl_reply rep = { 0 };
	struct timespec a, b;
	int ret;

	if (argc != 1) {
		fprintf(stderr, "Usage: wormhole ping\n");
		return EXIT_USAGE;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (cli_call(&(struct ctl_request){ .op = CTL_OP_PING }, &rep) < 0)
		return EXIT_FAIL;
	clock_gettime(CLOCK_MONOTONIC, &b);
	ret = rep.ok ? EXIT_OK : EXIT_FAIL;
	if (rep.ok)
		printf("%f\n",
		       (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
	else
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
