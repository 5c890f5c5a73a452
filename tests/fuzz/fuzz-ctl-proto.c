/* SPDX-License-Identifier: MIT */
/*
 * fuzz-ctl-proto.c - libFuzzer entry point for the control protocol (lib/grammar/ctl-proto.c)
 *
 * The input is one line, given to both ctl_request_parse() (what the daemon reads from any local
 * root process) and ctl_reply_parse() (what the CLI reads back). Whatever parses must format
 * again and parse back to the same struct, or the target aborts: the two sides of the protocol
 * must agree on every message either of them accepts. Built with fuzz-replay.c it replays a
 * corpus as a test; scripts/fuzz.sh builds it with libFuzzer and the sanitizers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_request(const char *line, size_t len)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	struct ctl_request req = { 0 }, back = { 0 };

	if (ctl_request_parse(line, len, &req, &err) < 0)
		return;
	if (ctl_request_format(&req, &out) < 0) {
		ctl_request_done(&req);
		return;
	}
	if (ctl_request_parse(out, strlen(out), &back, NULL) < 0)
		abort(); /* a request we accept must format into one we accept */
	if (back.op != req.op || !str_eq(back.id, req.id))
		abort();
	for (size_t i = 0; req.words && (req.words[i] || back.words[i]); i++)
		if (!str_eq(req.words[i], back.words[i]))
			abort();
	ctl_request_done(&back);
	ctl_request_done(&req);
}

static void segment_check(const struct ctl_segment_info *a, const struct ctl_segment_info *b)
{
	if (!str_eq(a->id, b->id) || !str_eq(a->parent, b->parent) || !str_eq(a->head, b->head) ||
	    !str_eq(a->tail, b->tail) || !str_eq(a->state, b->state) ||
	    a->conns_active != b->conns_active || a->conns_total != b->conns_total ||
	    a->bytes_in != b->bytes_in || a->bytes_out != b->bytes_out)
		abort();
}

static void check_reply(const char *line, size_t len)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	struct ctl_reply rep = { 0 }, back = { 0 };

	if (ctl_reply_parse(line, len, &rep, &err) < 0)
		return;
	if (ctl_reply_format(&rep, &out) < 0) {
		ctl_reply_done(&rep);
		return;
	}
	if (ctl_reply_parse(out, strlen(out), &back, NULL) < 0)
		abort(); /* a reply we accept must format into one we accept */
	if (back.has_segment != rep.has_segment || !str_eq(back.progress, rep.progress))
		abort();
	if (rep.has_segment)
		segment_check(&rep.segment, &back.segment);
	else if (!rep.progress) {
		if (back.ok != rep.ok || !str_eq(back.error, rep.error) ||
		    !str_eq(back.id, rep.id) || !str_eq(back.url, rep.url) ||
		    !str_eq(back.version, rep.version) || back.has_segments != rep.has_segments ||
		    back.n_segments != rep.n_segments || back.has_count != rep.has_count ||
		    back.count != rep.count)
			abort();
		for (size_t i = 0; i < rep.n_segments; i++)
			segment_check(&rep.segments[i], &back.segments[i]);
	}
	ctl_reply_done(&back);
	ctl_reply_done(&rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_request((const char *)data, size);
	check_reply((const char *)data, size);
	return 0;
}
