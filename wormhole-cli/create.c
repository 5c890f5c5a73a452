/* SPDX-License-Identifier: MIT */
/*
 * create.c - `wormhole create WORDS...`: validate the whole spec here, then ask the daemon
 *
 * A bad spec never reaches the daemon: the message names the word and its position, exit 2.
 * On success the head is printed as "<id> <proto>://<host>:<port>", as the original did.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "ctl-proto.h"
#include "spec.h"

static void create_help(FILE *f)
{
	fprintf(f,
		"Usage: wormhole create WORDS...\n"
		"\n"
		"Words (a chain of segments; each has a head where it listens and a tail where it "
		"connects):\n"
		"  url URL          [tcp|udp://][ns@][host][:port], [v6]:port, or unix:///path\n"
		"  docker-ns C      head or tail in container C's network namespace (name, id, "
		"prefix)\n"
		"  docker-run ARGS  start a container ('[flags] IMAGE [CMD...]', one word)\n"
		"  tail             later words change the tail\n"
		"  trigger          like tail, but the later words run on the first connection\n"
		"  child            a new segment whose head starts as this segment's tail\n"
		"  chain            like child, and this segment's tail becomes the child's head\n"
		"  remote HOST      the rest of the chain runs on the wormholed at HOST[:PORT]\n"
		"  tunnel HOST      like remote, over an IPsec tunnel (udptunnel: ESP-in-UDP)\n"
		"  id NAME          name the top segment\n"
		"\n"
		"Defaults: head tcp://127.0.0.1:<ephemeral>; the tail takes the head's protocol "
		"and port\n"
		"on 127.0.0.1.\n"
		"Example: wormhole create url :3306 tail url :13306\n");
}

int cmd_create(int argc, char *argv[])
{
	_cleanup_(spec_freep) struct spec *sp = NULL;
	_cleanup_free_ char *err = NULL;
	struct ctl_reply rep = { 0 };
	int r, ret;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		create_help(stdout);
		return EXIT_OK;
	}
	r = spec_parse(argv + 1, &sp, &err);
	if (r < 0) {
		fprintf(stderr, "wormhole: create: %s\n", err ?: strerror(-r));
		if (r == -EINVAL)
			fprintf(stderr, "Try 'wormhole create --help'.\n");
		return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	r = cli_call(&(struct ctl_request){ .op = CTL_OP_CREATE, .words = argv + 1 }, &rep);
	if (r < 0)
		return EXIT_FAIL;
	if (rep.ok) {
		printf("%s %s\n", rep.id ?: "?", rep.url ?: "?");
		ret = EXIT_OK;
	} else {
		fprintf(stderr, "wormhole: create: %s\n", rep.error ?: "failed");
		ret = EXIT_FAIL;
	}
	ctl_reply_done(&rep);
	return ret;
}
