/* SPDX-License-Identifier: MIT */
/*
 * show.c - `wormhole show ID`: the segment's row and its children's (as `list` prints them),
 * then one line per open TCP connection: which segment, its number, the client, the tail it goes
 * to, its state, its age and its bytes each way so far
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctl-proto.h"
#include "spec.h"

static void age_text(uint64_t ms, char *buf, size_t len)
{
	if (ms < 60 * 1000)
		snprintf(buf, len, "%" PRIu64 ".%01" PRIu64 "s", ms / 1000, (ms / 100) % 10);
	else if (ms < 3600 * 1000)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", ms / 60000, (ms / 1000) % 60);
	else
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", ms / 3600000, (ms / 60000) % 60);
}

static void print_conns(const struct ctl_reply *rep)
{
	int ws = 7, wc = 6, wt = 4;

	if (rep->n_conns == 0) {
		printf("\nno open connections\n");
		return;
	}
	for (size_t i = 0; i < rep->n_conns; i++) {
		const struct ctl_conn_info *c = &rep->conns[i];

		ws = (int)strlen(c->segment ?: "") > ws ? (int)strlen(c->segment ?: "") : ws;
		wc = (int)strlen(c->client ?: "") > wc ? (int)strlen(c->client ?: "") : wc;
		wt = (int)strlen(c->tail ?: "") > wt ? (int)strlen(c->tail ?: "") : wt;
	}
	printf("\n%-*s  %6s  %-*s  %-*s  %-10s  %8s  %8s  %8s\n", ws, "SEGMENT", "CONN", wc,
	       "CLIENT", wt, "TAIL", "STATE", "AGE", "IN", "OUT");
	for (size_t i = 0; i < rep->n_conns; i++) {
		const struct ctl_conn_info *c = &rep->conns[i];
		char in[16], out[16], age[24];

		cli_human_bytes(c->bytes_in, in, sizeof(in));
		cli_human_bytes(c->bytes_out, out, sizeof(out));
		age_text(c->age_ms, age, sizeof(age));
		printf("%-*s  %6" PRIu64 "  %-*s  %-*s  %-10s  %8s  %8s  %8s\n", ws,
		       c->segment ?: "", c->id, wc, c->client ?: "", wt, c->tail ?: "",
		       c->state ?: "", age, in, out);
	}
	if (rep->conns_more)
		printf("... and %" PRIu64 " more connections\n", rep->conns_more);
}

int cmd_show(int argc, char *argv[])
{
	struct ctl_reply rep = { 0 };
	int ret = EXIT_OK;

	if (argc != 2) {
		fprintf(stderr, "Usage: wormhole show ID\n");
		return EXIT_USAGE;
	}
	if (!spec_id_valid(argv[1])) {
		fprintf(stderr, "wormhole: show: '%s' is not a segment id\n", argv[1]);
		return EXIT_USAGE;
	}
	if (cli_call(&(struct ctl_request){ .op = CTL_OP_SHOW, .id = argv[1] }, &rep) < 0)
		return EXIT_FAIL;
	if (!rep.ok) {
		fprintf(stderr, "wormhole: show: %s\n", rep.error ?: "failed");
		ret = EXIT_FAIL;
	} else {
		cli_print_segments(rep.segments, rep.n_segments, true);
		print_conns(&rep);
	}
	ctl_reply_done(&rep);
	return ret;
}
