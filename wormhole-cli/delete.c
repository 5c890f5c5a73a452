/* SPDX-License-Identifier: MIT */
/*
 * delete.c - `wormhole delete ID`
 */
#include <stdio.h>

#include "cli.h"
#include "ctl-proto.h"
#include "spec.h"

int cmd_delete(int argc, char *argv[])
{
	struct ctl_reply rep = { 0 };
	int ret;

	if (argc != 2) {
		fprintf(stderr, "Usage: wormhole delete ID\n");
		return EXIT_USAGE;
	}
	if (!spec_id_valid(argv[1])) {
		fprintf(stderr, "wormhole: delete: '%s' is not a segment id\n", argv[1]);
		return EXIT_USAGE;
	}
	if (cli_call(&(struct ctl_request){ .op = CTL_OP_DELETE, .id = argv[1] }, &rep) < 0)
		return EXIT_FAIL;
	ret = rep.ok ? EXIT_OK : EXIT_FAIL;
	if (!rep.ok)
		fprintf(stderr, "wormhole: delete: %s\n", rep.error ?: "failed");
	ctl_reply_done(&rep);
	return ret;
}
