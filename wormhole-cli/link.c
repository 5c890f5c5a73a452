/* SPDX-License-Identifier: MIT */
/*
 * link.c - `wormhole link HOST[:PORT]` / `wormhole unlink HOST[:PORT]`: the daemon keeps (or
 * stops keeping) a link dialed out to HOST, which then reaches it as `remote NAME` through it
 */
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "ctl-proto.h"
#include "url.h"

int cmd_link(int argc, char *argv[])
{
	_cleanup_free_ char *err = NULL;
	struct ctl_reply rep = { 0 };
	struct peer_addr pa = { 0 };
	bool on = strcmp(argv[0], "link") == 0;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "Usage: wormhole %s HOST[:PORT]\n", argv[0]);
		return EXIT_USAGE;
	}
	if (peer_addr_parse(argv[1], false, &pa, &err) < 0) {
		fprintf(stderr, "wormhole: %s: '%s': %s\n", argv[0], argv[1], err ?: "invalid");
		peer_addr_done(&pa);
		return EXIT_USAGE;
	}
	peer_addr_done(&pa);
	if (cli_call(&(struct ctl_request){ .op = on ? CTL_OP_LINK : CTL_OP_UNLINK,
					    .name = argv[1] },
		     &rep) < 0)
		return EXIT_FAIL;
	ret = rep.ok ? EXIT_OK : EXIT_FAIL;
	if (!rep.ok)
		fprintf(stderr, "wormhole: %s\n", rep.error ?: "failed");
	ctl_reply_done(&rep);
	return ret;
}
