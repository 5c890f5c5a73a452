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
#include "words.h"

/* The word lines come from the word table (words.h), so the help cannot miss a word. */
static void create_help(FILE *f)
{
	_cleanup_free_ char *words = NULL;

	fprintf(f,
		"Usage: wormhole create WORDS...\n"
		"\n"
		"Words (a chain of segments; each has a head where it listens and a tail where it "
		"connects):\n");
	if (words_help(&words) >= 0)
		fputs(words, f);
	fprintf(f, "\n"
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
