/* SPDX-License-Identifier: MIT */
/*
 * list.c - `wormhole list [--json[=pretty]] [-q]`: one row per segment, children under their
 * parent, then one row per peer link; byte counts are live, in the table human-readable, in JSON
 * exact integers
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "ctl-proto.h"

void cli_human_bytes(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "BKMGTP";
	double d = (double)v;
	unsigned u = 0;

	if (v < 1024) {
		snprintf(buf, len, "%" PRIu64 "B", v);
		return;
	}
	while (d >= 1024 && u < sizeof(units) - 2) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f%c", d, units[u]);
}

void cli_print_segments(const struct ctl_segment_info *segs, size_t n, bool legend)
{
	int wid = 2, wh = 4, wt = 4;

	for (size_t i = 0; i < n; i++) {
		const struct ctl_segment_info *s = &segs[i];
		int l = (int)strlen(s->id) + (s->parent ? 2 : 0);

		wid = l > wid ? l : wid;
		wh = (int)strlen(s->head ?: "") > wh ? (int)strlen(s->head ?: "") : wh;
		wt = (int)strlen(s->tail ?: "") > wt ? (int)strlen(s->tail ?: "") : wt;
	}
	if (legend)
		printf("%-*s  %-*s  %-*s  %-10s  %6s  %6s  %8s  %8s\n", wid, "ID", wh, "HEAD", wt,
		       "TAIL", "STATE", "CONNS", "TOTAL", "IN", "OUT");
	for (size_t i = 0; i < n; i++) {
		const struct ctl_segment_info *s = &segs[i];
		char in[16], out[16], id[128];

		cli_human_bytes(s->bytes_in, in, sizeof(in));
		cli_human_bytes(s->bytes_out, out, sizeof(out));
		snprintf(id, sizeof(id), "%s%s", s->parent ? "└ " : "", s->id);
		printf("%-*s  %-*s  %-*s  %-10s  %6" PRIu64 "  %6" PRIu64 "  %8s  %8s\n",
		       wid + (s->parent ? 2 : 0), id, wh, s->head ?: "", wt, s->tail ?: "",
		       s->state ?: "", s->conns_active, s->conns_total, in, out);
	}
}

int cmd_list(int argc, char *argv[])
{
	bool json = false, pretty = false, quiet = false, legend = true;
	struct ctl_reply rep = { 0 };
	int ret = EXIT_OK;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "--json=short") == 0)
			json = true;
		else if (strcmp(argv[i], "--json=pretty") == 0)
			json = pretty = true;
		else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
			quiet = true;
		else if (strcmp(argv[i], "--no-legend") == 0)
			legend = false;
		else {
			fprintf(stderr,
				"Usage: wormhole list [--json[=pretty]] [-q] [--no-legend]\n");
			return EXIT_USAGE;
		}
	}
	if (cli_call(&(struct ctl_request){ .op = CTL_OP_LIST }, &rep) < 0)
		return EXIT_FAIL;
	if (!rep.ok) {
		fprintf(stderr, "wormhole: list: %s\n", rep.error ?: "failed");
		ret = EXIT_FAIL;
	} else if (json) {
		_cleanup_free_ char *out = NULL;

		if (ctl_list_format_json(rep.segments, rep.n_segments, rep.links, rep.n_links,
					 pretty, &out) < 0)
			ret = EXIT_FAIL;
		else
			fputs(out, stdout);
	} else if (quiet) {
		for (size_t i = 0; i < rep.n_segments; i++)
			printf("%s\n", rep.segments[i].id);
	} else {
		cli_print_segments(rep.segments, rep.n_segments, legend);
		if (rep.n_links > 0) {
			int wn = 4, wa = 7;

			for (size_t i = 0; i < rep.n_links; i++) {
				const struct ctl_link_info *l = &rep.links[i];

				wn = (int)strlen(l->name ?: "") > wn ? (int)strlen(l->name ?: "")
								     : wn;
				wa = (int)strlen(l->address ?: "") > wa
					     ? (int)strlen(l->address ?: "")
					     : wa;
			}
			printf("\n");
			if (legend)
				printf("%-*s  %-*s  %-4s  %-10s  %-12s  %8s  %7s  %8s  %8s\n", wn,
				       "LINK", wa, "ADDRESS", "DIR", "STATE", "KEY", "AGE",
				       "STREAMS", "IN", "OUT");
			for (size_t i = 0; i < rep.n_links; i++) {
				const struct ctl_link_info *l = &rep.links[i];
				char in[16], out[16], age[24];

				cli_human_bytes(l->bytes_in, in, sizeof(in));
				cli_human_bytes(l->bytes_out, out, sizeof(out));
				snprintf(age, sizeof(age), "%" PRIu64 "s", l->age_sec);
				printf("%-*s  %-*s  %-4s  %-10s  %-12s  %8s  %7" PRIu64
				       "  %8s  %8s\n",
				       wn, l->name ?: "", wa, l->address ?: "", l->direction ?: "",
				       l->state ?: "", l->key && l->key[0] ? l->key : "-", age,
				       l->streams, in, out);
			}
		}
	}
	ctl_reply_done(&rep);
	return ret;
}
