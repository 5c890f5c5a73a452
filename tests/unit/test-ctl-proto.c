/* SPDX-License-Identifier: MIT */
/*
 * test-ctl-proto.c - the control protocol's JSON lines, both ways
 *
 * Every op makes a request that formats to one exact line and parses back to the same struct;
 * replies (create, delete, list with several segments and counters beyond 2^32 and 2^53, errors,
 * version, progress) do the same. Then the parsers' refusals: text that is not JSON, JSON that is
 * not an object, fields of the wrong type, unknown ops, words that are not strings, and lines over
 * CTL_LINE_MAX (-E2BIG, before any parsing). A failed parse must leave its out-params untouched.
 * Last, what yajl_tree would lose or misreport: NUL bytes in a line, \u0000 inside a string (both
 * would cut a string short), bytes that are not UTF-8 (a clear message, not a "lexical error"), and
 * counters at or above 2^63 (clamped to INT64_MAX, never written negative).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cleanup.h"
#include "ctl-proto.h"

/* A mutable copy of a string literal (-Wwrite-strings), for the char * fields of the structs. */
#define S(s) ((char[]){ s })

/* A request struct that a failed parse must not touch. */
#define REQ_SENTINEL ((struct ctl_request){ .op = CTL_OP_VERSION, .id = S("sentinel") })

static void parse_req_ok(const char *line, struct ctl_request *ret)
{
	_cleanup_free_ char *err = NULL;
	int r;

	r = ctl_request_parse(line, strlen(line), ret, &err);
	if (r != 0)
		print_error("ctl_request_parse('%s') = %d: %s\n", line, r, err ? err : "?");
	assert_int_equal(r, 0);
	assert_null(err);
}

static void parse_rep_ok(const char *line, struct ctl_reply *ret)
{
	_cleanup_free_ char *err = NULL;
	int r;

	r = ctl_reply_parse(line, strlen(line), ret, &err);
	if (r != 0)
		print_error("ctl_reply_parse('%s') = %d: %s\n", line, r, err ? err : "?");
	assert_int_equal(r, 0);
	assert_null(err);
}

static void test_op_names(void **state)
{
	assert_string_equal(ctl_op_name(CTL_OP_CREATE), "create");
	assert_string_equal(ctl_op_name(CTL_OP_DELETE), "delete");
	assert_string_equal(ctl_op_name(CTL_OP_LIST), "list");
	assert_string_equal(ctl_op_name(CTL_OP_PING), "ping");
	assert_string_equal(ctl_op_name(CTL_OP_VERSION), "version");
	assert_string_equal(ctl_op_name(_CTL_OP_MAX), "?");
}

/* format -> exact line -> parse -> same request, for every op */
static void test_request_round_trip_every_op(void **state)
{
	char *words[] = { S("url"), S(":9000"), S("tail"), S("url"), S(":9001"), NULL };
	struct {
		struct ctl_request req;
		const char *line;
	} cases[] = {
		{ { .op = CTL_OP_CREATE, .words = words },
		  "{\"op\":\"create\",\"words\":[\"url\",\":9000\",\"tail\",\"url\",\":9001\"]}"
		  "\n" },
		{ { .op = CTL_OP_DELETE, .id = S("web") }, "{\"op\":\"delete\",\"id\":\"web\"}\n" },
		{ { .op = CTL_OP_LIST }, "{\"op\":\"list\"}\n" },
		{ { .op = CTL_OP_PING }, "{\"op\":\"ping\"}\n" },
		{ { .op = CTL_OP_VERSION }, "{\"op\":\"version\"}\n" },
		{ { .op = CTL_OP_SHOW, .id = S("web") }, "{\"op\":\"show\",\"id\":\"web\"}\n" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *line = NULL;
		struct ctl_request back = { 0 };

		assert_int_equal(ctl_request_format(&cases[i].req, &line), 0);
		assert_string_equal(line, cases[i].line);
		/* one line: the only '\n' is the last byte */
		assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);

		parse_req_ok(line, &back);
		assert_int_equal(back.op, cases[i].req.op);
		if (cases[i].req.op == CTL_OP_DELETE || cases[i].req.op == CTL_OP_SHOW)
			assert_string_equal(back.id, cases[i].req.id);
		else
			assert_null(back.id);
		if (cases[i].req.op == CTL_OP_CREATE) {
			size_t n = 0;

			assert_non_null(back.words);
			for (; cases[i].req.words[n]; n++) {
				assert_non_null(back.words[n]);
				assert_string_equal(back.words[n], cases[i].req.words[n]);
			}
			assert_null(back.words[n]);
		} else
			assert_null(back.words);
		ctl_request_done(&back);
		assert_null(back.id);
		assert_null(back.words);
	}
}

/* words survive with quotes, backslashes, control characters, UTF-8 and empty strings */
static void test_request_words_escaping(void **state)
{
	char *words[] = { S("docker-run"),
			  S("-e 'A=\"b c\"' --name x busybox sh -c 'echo \\\\ $HOME'"),
			  S(""),
			  S("tab\there\nnewline\r\x01"),
			  S("unix:///tmp/\xc3\xbc.sock"),
			  S("/"),
			  NULL };
	struct ctl_request req = { .op = CTL_OP_CREATE, .words = words }, back = { 0 };
	_cleanup_free_ char *line = NULL;
	size_t n;

	assert_int_equal(ctl_request_format(&req, &line), 0);
	/* raw control characters are escaped, so the line stays one line */
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	assert_null(strchr(line, '\r'));
	assert_null(strchr(line, '\t'));
	parse_req_ok(line, &back);
	assert_int_equal(back.op, CTL_OP_CREATE);
	for (n = 0; words[n]; n++)
		assert_string_equal(back.words[n], words[n]);
	assert_null(back.words[n]);
	ctl_request_done(&back);

	/* JSON escapes written by someone else decode to the same bytes */
	parse_req_ok("{\"op\":\"create\",\"words\":[\"unix:///tmp/\\u00fc.sock\",\"a\\\"b\\\\c\"]}",
		     &back);
	assert_string_equal(back.words[0], "unix:///tmp/\xc3\xbc.sock");
	assert_string_equal(back.words[1], "a\"b\\c");
	assert_null(back.words[2]);
	ctl_request_done(&back);
}

static void test_request_parse_variants(void **state)
{
	struct ctl_request r = { 0 };
	const char *crlf = "{\"op\":\"ping\"}\r\n";

	/* with '\n', with "\r\n", surrounded by whitespace, keys in another order, extra keys */
	parse_req_ok("{\"op\":\"list\"}\n", &r);
	assert_int_equal(r.op, CTL_OP_LIST);
	ctl_request_done(&r);
	assert_int_equal(ctl_request_parse(crlf, strlen(crlf), &r, NULL), 0);
	assert_int_equal(r.op, CTL_OP_PING);
	ctl_request_done(&r);
	parse_req_ok(
		"  { \"id\" : \"x\" , \"op\" : \"delete\" , \"extra\" : [1, {\"a\": null}] }  ",
		&r);
	assert_int_equal(r.op, CTL_OP_DELETE);
	assert_string_equal(r.id, "x");
	ctl_request_done(&r);

	/* an empty words array parses; the spec parser, not this one, refuses it */
	parse_req_ok("{\"op\":\"create\",\"words\":[]}", &r);
	assert_int_equal(r.op, CTL_OP_CREATE);
	assert_non_null(r.words);
	assert_null(r.words[0]);
	ctl_request_done(&r);

	/* only the first len bytes count */
	assert_int_equal(ctl_request_parse("{\"op\":\"ping\"}garbage", 13, &r, NULL), 0);
	assert_int_equal(r.op, CTL_OP_PING);
	ctl_request_done(&r);
}

static void test_request_format_refusals(void **state)
{
	struct ctl_request del = { .op = CTL_OP_DELETE }, cre = { .op = CTL_OP_CREATE },
			   bad = { .op = _CTL_OP_MAX };
	char *line = NULL;

	assert_int_equal(ctl_request_format(&del, &line), -EINVAL);
	assert_int_equal(ctl_request_format(&cre, &line), -EINVAL);
	assert_int_equal(ctl_request_format(&bad, &line), -EINVAL);
	assert_null(line);
}

/* Each malformed request: -EINVAL, a message containing the expected text, ret untouched. */
static void test_request_rejects(void **state)
{
	static const struct {
		const char *line, *err;
	} cases[] = {
		/* not JSON */
		{ "", "malformed JSON" },
		{ "\n", "malformed JSON" },
		{ "ping", "malformed JSON" },
		{ "{\"op\":\"ping\"", "malformed JSON" },
		{ "{op:\"ping\"}", "malformed JSON" },
		{ "{\"op\":'ping'}", "malformed JSON" },
		{ "{\"op\":\"ping\",}", "malformed JSON" },
		{ "{\"op\":\"ping\"}{\"op\":\"list\"}", "malformed JSON" },
		{ "{\"op\":\"ping\"} {\"op\":\"list\"}", "malformed JSON" },
		{ "{\"op\":\"pi\xffng\"}", "invalid UTF-8 at byte 10 of the request" },
		/* JSON, but not an object */
		{ "[\"op\",\"ping\"]", "must be a JSON object" },
		{ "\"ping\"", "must be a JSON object" },
		{ "42", "must be a JSON object" },
		{ "null", "must be a JSON object" },
		{ "true", "must be a JSON object" },
		/* op missing or of the wrong type */
		{ "{}", "'op' must be a string" },
		{ "{\"OP\":\"ping\"}", "'op' must be a string" },
		{ "{\"op\":null}", "'op' must be a string" },
		{ "{\"op\":1}", "'op' must be a string" },
		{ "{\"op\":true}", "'op' must be a string" },
		{ "{\"op\":[\"ping\"]}", "'op' must be a string" },
		{ "{\"op\":{\"name\":\"ping\"}}", "'op' must be a string" },
		/* unknown op (names are case-sensitive, no prefixes, no padding) */
		{ "{\"op\":\"explode\"}", "unknown op 'explode'" },
		{ "{\"op\":\"PING\"}", "unknown op 'PING'" },
		{ "{\"op\":\"pin\"}", "unknown op 'pin'" },
		{ "{\"op\":\"ping \"}", "unknown op 'ping '" },
		{ "{\"op\":\"\"}", "unknown op ''" },
		/* create: words must be an array of strings */
		{ "{\"op\":\"create\"}", "'words' must be an array of strings" },
		{ "{\"op\":\"create\",\"words\":null}", "'words' must be an array of strings" },
		{ "{\"op\":\"create\",\"words\":\"url :9000\"}",
		  "'words' must be an array of strings" },
		{ "{\"op\":\"create\",\"words\":{\"0\":\"url\"}}",
		  "'words' must be an array of strings" },
		{ "{\"op\":\"create\",\"words\":[\"url\",9000]}",
		  "'words' must be an array of strings" },
		{ "{\"op\":\"create\",\"words\":[\"url\",null]}",
		  "'words' must be an array of strings" },
		{ "{\"op\":\"create\",\"words\":[true]}", "'words' must be an array of strings" },
		{ "{\"op\":\"create\",\"words\":[\"url\",[\":9000\"]]}",
		  "'words' must be an array of strings" },
		{ "{\"op\":\"create\",\"words\":[\"url\",{\"a\":\"b\"}]}",
		  "'words' must be an array of strings" },
		{ "{\"op\":\"create\",\"words\":[\"url\",\":9000\",1.5]}",
		  "'words' must be an array of strings" },
		/* delete: id must be a string */
		{ "{\"op\":\"delete\"}", "delete needs 'id'" },
		{ "{\"op\":\"delete\",\"id\":null}", "delete needs 'id'" },
		{ "{\"op\":\"delete\",\"id\":7}", "'id' must be a string" },
		{ "{\"op\":\"delete\",\"id\":[\"web\"]}", "'id' must be a string" },
		{ "{\"op\":\"delete\",\"id\":false}", "'id' must be a string" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct ctl_request r = REQ_SENTINEL;
		_cleanup_free_ char *err = NULL;
		int ret;

		ret = ctl_request_parse(cases[i].line, strlen(cases[i].line), &r, &err);
		if (ret != -EINVAL || !err || !strstr(err, cases[i].err))
			print_error("case %zu '%s': got %d '%s', want -EINVAL '%s'\n", i,
				    cases[i].line, ret, err ? err : "(null)", cases[i].err);
		assert_int_equal(ret, -EINVAL);
		assert_non_null(err);
		assert_non_null(strstr(err, cases[i].err));
		assert_null(strchr(err, '\n')); /* the message goes on one line of a reply */
		assert_int_equal(r.op, CTL_OP_VERSION);
		assert_string_equal(r.id, "sentinel");
		assert_null(r.words);

		/* reterr may be NULL */
		assert_int_equal(ctl_request_parse(cases[i].line, strlen(cases[i].line), &r, NULL),
				 -EINVAL);
	}
}

/* An unknown op is quoted in the message, but at most 64 bytes of it. */
static void test_request_unknown_op_is_truncated(void **state)
{
	_cleanup_free_ char *line = NULL, *err = NULL;
	char op[1001];
	struct ctl_request r = { 0 };

	memset(op, 'x', sizeof(op) - 1);
	op[sizeof(op) - 1] = 0;
	assert_true(asprintf(&line, "{\"op\":\"%s\"}", op) > 0);
	assert_int_equal(ctl_request_parse(line, strlen(line), &r, &err), -EINVAL);
	assert_non_null(err);
	assert_true(strlen(err) < 100);
	assert_non_null(strstr(err, "unknown op 'xxxx"));
}

/* Builds `{"op":"create","words":["   ..."]}` padded to exactly @len bytes (without '\n').
 * asprintf rather than malloc + memset: gcc -fsanitize=address sees a bogus -Warray-bounds there. */
static char *create_line_of_length(size_t len)
{
	static const char pre[] = "{\"op\":\"create\",\"words\":[\"", post[] = "\"]}";
	size_t fixed = strlen(pre) + strlen(post);
	char *s = NULL;

	assert_true(len > fixed);
	assert_true(asprintf(&s, "%s%*s%s", pre, (int)(len - fixed), "", post) == (int)len);
	return s;
}

static void test_line_max(void **state)
{
	_cleanup_free_ char *at = create_line_of_length(CTL_LINE_MAX);
	_cleanup_free_ char *over = create_line_of_length(CTL_LINE_MAX + 1);
	_cleanup_free_ char *huge = create_line_of_length(4 * CTL_LINE_MAX);
	struct ctl_request r = REQ_SENTINEL;
	struct ctl_reply rep = { .ok = true };
	char *err = NULL;

	/* exactly CTL_LINE_MAX is fine */
	parse_req_ok(at, &r);
	assert_int_equal(r.op, CTL_OP_CREATE);
	assert_int_equal(strlen(r.words[0]),
			 CTL_LINE_MAX - strlen("{\"op\":\"create\",\"words\":[\"\"]}"));
	ctl_request_done(&r);

	/* one byte more is -E2BIG, before any parsing: no message, ret untouched */
	r = REQ_SENTINEL;
	assert_int_equal(ctl_request_parse(over, strlen(over), &r, &err), -E2BIG);
	assert_null(err);
	assert_string_equal(r.id, "sentinel");
	assert_int_equal(ctl_request_parse(huge, strlen(huge), &r, &err), -E2BIG);
	assert_null(err);
	assert_string_equal(r.id, "sentinel");
	/* even when the excess is only the newline: the cap is on what was read */
	over[CTL_LINE_MAX] = '\n';
	assert_int_equal(ctl_request_parse(over, CTL_LINE_MAX + 1, &r, &err), -E2BIG);
	assert_null(err);

	/* the same cap on replies */
	assert_int_equal(ctl_reply_parse(over, strlen(over), &rep, &err), -E2BIG);
	assert_null(err);
	assert_true(rep.ok);
}

/* Deep nesting inside an ignored field: refused or ignored, never a crash. */
static void test_request_deep_nesting(void **state)
{
	const size_t depth = 100000;
	_cleanup_free_ char *line = malloc(2 * depth + 64);
	_cleanup_free_ char *err = NULL;
	struct ctl_request r = { 0 };
	size_t n;
	int ret;

	assert_non_null(line);
	n = (size_t)sprintf(line, "{\"op\":\"ping\",\"x\":");
	memset(line + n, '[', depth);
	n += depth;
	memset(line + n, ']', depth);
	n += depth;
	line[n++] = '}';
	line[n] = 0;
	assert_true(n <= CTL_LINE_MAX);
	ret = ctl_request_parse(line, n, &r, &err);
	assert_true(ret == 0 || ret == -EINVAL);
	if (ret == 0) {
		assert_int_equal(r.op, CTL_OP_PING);
		ctl_request_done(&r);
	}
}

static void assert_segment_equal(const struct ctl_segment_info *a, const struct ctl_segment_info *b)
{
	assert_string_equal(a->id, b->id);
	if (b->parent)
		assert_string_equal(a->parent, b->parent);
	else
		assert_null(a->parent);
	assert_string_equal(a->head, b->head);
	assert_string_equal(a->tail, b->tail);
	assert_string_equal(a->state, b->state);
	assert_true(a->conns_active == b->conns_active);
	assert_true(a->conns_total == b->conns_total);
	assert_true(a->bytes_in == b->bytes_in);
	assert_true(a->bytes_out == b->bytes_out);
}

/* Three segments, a parent/child pair, counters at 0, 2^32, 2^32+1, 2^53+1 and INT64_MAX. */
static struct ctl_segment_info list_segments[] = {
	{ .id = S("web"),
	  .head = S("tcp://127.0.0.1:9000"),
	  .tail = S("tcp://127.0.0.1:9001"),
	  .state = S("listening"),
	  .conns_active = 3,
	  .conns_total = 4294967296ull,
	  .bytes_in = 4294967297ull,
	  .bytes_out = 9007199254740993ull },
	{ .id = S("web-1"),
	  .parent = S("web"),
	  .head = S("tcp://[::1]:9001"),
	  .tail = S("unix:///run/x.sock"),
	  .state = S("armed") },
	{ .id = S("dns"),
	  .head = S("udp://127.0.0.1:5300"),
	  .tail = S("udp://127.0.0.1:5301"),
	  .state = S("triggering"),
	  .conns_active = 0,
	  .conns_total = 1,
	  .bytes_in = 9223372036854775807ull,
	  .bytes_out = 18446744073ull },
};

static const char list_line[] =
	"{\"ok\":true,\"segments\":["
	"{\"id\":\"web\",\"parent\":null,\"head\":\"tcp://127.0.0.1:9000\","
	"\"tail\":\"tcp://127.0.0.1:9001\",\"state\":\"listening\",\"conns_active\":3,"
	"\"conns_total\":4294967296,\"bytes_in\":4294967297,\"bytes_out\":9007199254740993},"
	"{\"id\":\"web-1\",\"parent\":\"web\",\"head\":\"tcp://[::1]:9001\","
	"\"tail\":\"unix:///run/x.sock\",\"state\":\"armed\",\"conns_active\":0,"
	"\"conns_total\":0,\"bytes_in\":0,\"bytes_out\":0},"
	"{\"id\":\"dns\",\"parent\":null,\"head\":\"udp://127.0.0.1:5300\","
	"\"tail\":\"udp://127.0.0.1:5301\",\"state\":\"triggering\",\"conns_active\":0,"
	"\"conns_total\":1,\"bytes_in\":9223372036854775807,\"bytes_out\":18446744073}"
	"]}\n";

static void test_reply_list_round_trip(void **state)
{
	struct ctl_reply rep = { .ok = true,
				 .segments = list_segments,
				 .n_segments = ELEMENTSOF(list_segments),
				 .has_segments = true },
			 back = { 0 };
	_cleanup_free_ char *line = NULL;

	assert_int_equal(ctl_reply_format(&rep, &line), 0);
	assert_string_equal(line, list_line);
	parse_rep_ok(line, &back);
	assert_true(back.ok);
	assert_true(back.has_segments);
	assert_null(back.error);
	assert_null(back.progress);
	assert_int_equal(back.n_segments, ELEMENTSOF(list_segments));
	for (size_t i = 0; i < back.n_segments; i++)
		assert_segment_equal(&back.segments[i], &list_segments[i]);
	ctl_reply_done(&back);
	assert_null(back.segments);
	assert_int_equal(back.n_segments, 0);
}

/* show: segments and connections in one line, and back; a show without an id is refused */
static void test_reply_show_round_trip(void **state)
{
	struct ctl_conn_info conns[] = {
		{ .segment = S("web"),
		  .id = 12,
		  .client = S("127.0.0.1:40022"),
		  .tail = S("tcp://docker:db@172.17.0.2:3306"),
		  .state = S("relaying"),
		  .age_ms = 3200,
		  .bytes_in = 10,
		  .bytes_out = 20 },
	};
	struct ctl_reply rep = { .ok = true,
				 .segments = list_segments,
				 .n_segments = 1,
				 .has_segments = true,
				 .conns = conns,
				 .n_conns = 1,
				 .has_conns = true,
				 .conns_more = 7 },
			 back = { 0 };
	_cleanup_free_ char *line = NULL, *err = NULL;
	struct ctl_request req = { 0 };

	assert_int_equal(ctl_reply_format(&rep, &line), 0);
	assert_non_null(strstr(line, "\"conns\":[{\"segment\":\"web\",\"id\":12,"));
	parse_rep_ok(line, &back);
	assert_true(back.ok);
	assert_int_equal(back.n_segments, 1);
	assert_segment_equal(&back.segments[0], &list_segments[0]);
	assert_true(back.has_conns);
	assert_int_equal(back.n_conns, 1);
	assert_string_equal(back.conns[0].segment, "web");
	assert_int_equal(back.conns[0].id, 12);
	assert_string_equal(back.conns[0].client, "127.0.0.1:40022");
	assert_string_equal(back.conns[0].tail, "tcp://docker:db@172.17.0.2:3306");
	assert_string_equal(back.conns[0].state, "relaying");
	assert_int_equal(back.conns[0].age_ms, 3200);
	assert_int_equal(back.conns[0].bytes_in, 10);
	assert_int_equal(back.conns[0].bytes_out, 20);
	assert_int_equal(back.conns_more, 7);
	ctl_reply_done(&back);
	assert_null(back.conns);

	assert_int_equal(ctl_reply_parse("{\"ok\":true,\"conns\":{}}", 22, &back, &err), -EINVAL);
	assert_non_null(strstr(err, "'conns' must be an array"));
	free(err);
	err = NULL;
	assert_int_equal(ctl_request_parse("{\"op\":\"show\"}", 13, &req, &err), -EINVAL);
	assert_non_null(strstr(err, "show needs 'id'"));
	assert_int_equal(ctl_request_format(&(struct ctl_request){ .op = CTL_OP_SHOW }, &line),
			 -EINVAL);
}

static void test_reply_list_empty(void **state)
{
	struct ctl_reply rep = { .ok = true, .has_segments = true }, back = { 0 };
	_cleanup_free_ char *line = NULL;

	assert_int_equal(ctl_reply_format(&rep, &line), 0);
	assert_string_equal(line, "{\"ok\":true,\"segments\":[]}\n");
	parse_rep_ok(line, &back);
	assert_true(back.ok);
	assert_true(back.has_segments);
	assert_int_equal(back.n_segments, 0);
	ctl_reply_done(&back);

	/* no "segments" key: has_segments stays false */
	parse_rep_ok("{\"ok\":true}", &back);
	assert_false(back.has_segments);
	assert_null(back.segments);
	ctl_reply_done(&back);
}

/* Absent counters read as 0; absent or null optional strings as NULL. */
static void test_reply_segment_defaults(void **state)
{
	struct ctl_reply back = { 0 };

	parse_rep_ok("{\"ok\":true,\"segments\":[{\"id\":\"a\",\"parent\":null}]}", &back);
	assert_int_equal(back.n_segments, 1);
	assert_string_equal(back.segments[0].id, "a");
	assert_null(back.segments[0].parent);
	assert_null(back.segments[0].head);
	assert_true(back.segments[0].bytes_in == 0);
	assert_true(back.segments[0].conns_total == 0);
	ctl_reply_done(&back);
}

/* The other replies: exact lines, and back. */
static void test_reply_round_trips(void **state)
{
	struct {
		struct ctl_reply rep;
		const char *line;
	} cases[] = {
		{ { .ok = true }, "{\"ok\":true}\n" },
		{ { .ok = true, .id = S("web"), .url = S("tcp://127.0.0.1:9000") },
		  "{\"ok\":true,\"id\":\"web\",\"url\":\"tcp://127.0.0.1:9000\"}\n" },
		{ { .ok = true, .id = S("v6"), .url = S("tcp://[::1]:9000") },
		  "{\"ok\":true,\"id\":\"v6\",\"url\":\"tcp://[::1]:9000\"}\n" },
		{ { .ok = true, .version = S("0.1.0") }, "{\"ok\":true,\"version\":\"0.1.0\"}\n" },
		{ { .ok = false, .error = S("segment 'web': no such segment") },
		  "{\"ok\":false,\"error\":\"segment 'web': no such segment\"}\n" },
		{ { .ok = false, .error = S("word 3 'tial': unknown word\n\"quoted\"") },
		  "{\"ok\":false,\"error\":\"word 3 'tial': unknown word\\n\\\"quoted\\\"\"}\n" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const struct ctl_reply *want = &cases[i].rep;
		_cleanup_free_ char *line = NULL;
		struct ctl_reply back = { 0 };

		assert_int_equal(ctl_reply_format(want, &line), 0);
		assert_string_equal(line, cases[i].line);
		parse_rep_ok(line, &back);
		assert_int_equal(back.ok, want->ok);
		assert_null(back.progress);
		assert_false(back.has_segments);
#define CHECK_STR(f)                                          \
	do {                                                  \
		if (want->f)                                  \
			assert_string_equal(back.f, want->f); \
		else                                          \
			assert_null(back.f);                  \
	} while (0)
		CHECK_STR(error);
		CHECK_STR(id);
		CHECK_STR(url);
		CHECK_STR(version);
#undef CHECK_STR
		ctl_reply_done(&back);
	}
}

/* Progress lines come before the final reply; "ok" is not part of them. */
static void test_progress_lines(void **state)
{
	char *lines[] = { S("pulling image 'busybox'"), S("Downloading 1.2 MB / 2.0 MB") };
	struct ctl_reply back = { 0 };

	for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
		struct ctl_reply rep = { .progress = lines[i], .ok = true };
		_cleanup_free_ char *line = NULL, *want = NULL;

		assert_int_equal(ctl_reply_format(&rep, &line), 0);
		assert_true(asprintf(&want, "{\"progress\":\"%s\"}\n", lines[i]) > 0);
		assert_string_equal(line, want);
		parse_rep_ok(line, &back);
		assert_string_equal(back.progress, lines[i]);
		assert_null(back.id);
		assert_null(back.error);
		ctl_reply_done(&back);
	}

	/* a progress line from elsewhere, with other keys: still a progress line */
	parse_rep_ok("{\"progress\":\"x\",\"ok\":\"not looked at\"}", &back);
	assert_string_equal(back.progress, "x");
	ctl_reply_done(&back);

	/* then the final line */
	parse_rep_ok("{\"ok\":true,\"id\":\"c1\",\"url\":\"tcp://127.0.0.1:33000\"}\n", &back);
	assert_null(back.progress);
	assert_true(back.ok);
	assert_string_equal(back.id, "c1");
	ctl_reply_done(&back);
}

static void test_reply_rejects(void **state)
{
	static const struct {
		const char *line, *err;
	} cases[] = {
		{ "", "malformed JSON" },
		{ "ok", "malformed JSON" },
		{ "{\"ok\":true", "malformed JSON" },
		{ "[true]", "must be a JSON object" },
		{ "true", "must be a JSON object" },
		{ "{}", "'ok' must be a boolean" },
		{ "{\"error\":\"x\"}", "'ok' must be a boolean" },
		{ "{\"ok\":\"true\"}", "'ok' must be a boolean" },
		{ "{\"ok\":1}", "'ok' must be a boolean" },
		{ "{\"ok\":null}", "'ok' must be a boolean" },
		{ "{\"progress\":5}", "'progress' must be a string" },
		{ "{\"progress\":[\"x\"]}", "'progress' must be a string" },
		{ "{\"ok\":false,\"error\":{}}", "'error' must be a string" },
		{ "{\"ok\":true,\"id\":5}", "'id' must be a string" },
		{ "{\"ok\":true,\"url\":true}", "'url' must be a string" },
		{ "{\"ok\":true,\"version\":0.1}", "'version' must be a string" },
		{ "{\"ok\":true,\"segments\":{}}", "'segments' must be an array" },
		{ "{\"ok\":true,\"segments\":null}", "'segments' must be an array" },
		{ "{\"ok\":true,\"segments\":[1]}", "a segment must be an object" },
		{ "{\"ok\":true,\"segments\":[{\"id\":\"a\"},\"b\"]}",
		  "a segment must be an object" },
		{ "{\"ok\":true,\"segments\":[{\"head\":\"tcp://127.0.0.1:1\"}]}",
		  "a segment needs an 'id'" },
		{ "{\"ok\":true,\"segments\":[{\"id\":1}]}", "'id' must be a string" },
		{ "{\"ok\":true,\"segments\":[{\"id\":\"a\",\"parent\":2}]}",
		  "'parent' must be a string" },
		{ "{\"ok\":true,\"segments\":[{\"id\":\"a\",\"state\":[]}]}",
		  "'state' must be a string" },
		{ "{\"ok\":true,\"segments\":[{\"id\":\"a\",\"bytes_in\":-1}]}",
		  "'bytes_in' must be a non-negative integer" },
		{ "{\"ok\":true,\"segments\":[{\"id\":\"a\",\"bytes_out\":1.5}]}",
		  "'bytes_out' must be a non-negative integer" },
		{ "{\"ok\":true,\"segments\":[{\"id\":\"a\",\"conns_total\":\"5\"}]}",
		  "'conns_total' must be a non-negative integer" },
		{ "{\"ok\":true,\"segments\":[{\"id\":\"a\",\"conns_active\":null}]}",
		  "'conns_active' must be a non-negative integer" },
		/* beyond what a 64-bit signed integer holds: refused, not wrapped */
		{ "{\"ok\":true,\"segments\":[{\"id\":\"a\",\"bytes_in\":18446744073709551615}]}",
		  "'bytes_in' must be a non-negative integer" },
		/* a bad segment after good ones: everything parsed so far is released (ASan) */
		{ "{\"ok\":true,\"segments\":[{\"id\":\"a\",\"head\":\"h\"},{\"id\":\"b\",\"tail\":"
		  "\"t\","
		  "\"bytes_in\":-5}]}",
		  "'bytes_in' must be a non-negative integer" },
		{ "{\"ok\":false,\"error\":\"x\",\"id\":\"a\",\"url\":7}",
		  "'url' must be a string" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct ctl_reply rep = { .ok = true, .id = S("sentinel") };
		_cleanup_free_ char *err = NULL;
		int ret;

		ret = ctl_reply_parse(cases[i].line, strlen(cases[i].line), &rep, &err);
		if (ret != -EINVAL || !err || !strstr(err, cases[i].err))
			print_error("case %zu '%s': got %d '%s', want -EINVAL '%s'\n", i,
				    cases[i].line, ret, err ? err : "(null)", cases[i].err);
		assert_int_equal(ret, -EINVAL);
		assert_non_null(err);
		assert_non_null(strstr(err, cases[i].err));
		assert_true(rep.ok);
		assert_string_equal(rep.id, "sentinel");
		assert_null(rep.segments);
		assert_int_equal(ctl_reply_parse(cases[i].line, strlen(cases[i].line), &rep, NULL),
				 -EINVAL);
	}
}

/* `wormhole list --json`: {"segments":[...]} with the same fields and exact integers. */
static void test_segments_format_json(void **state)
{
	_cleanup_free_ char *compact = NULL, *pretty = NULL, *empty = NULL, *wrapped = NULL;
	struct ctl_reply back = { 0 };
	size_t nl = 0;

	assert_int_equal(
		ctl_segments_format_json(list_segments, ELEMENTSOF(list_segments), false, &compact),
		0);
	/* the list reply minus its "ok" member */
	assert_true(asprintf(&wrapped, "{%s", list_line + strlen("{\"ok\":true,")) > 0);
	assert_string_equal(compact, wrapped);

	assert_int_equal(
		ctl_segments_format_json(list_segments, ELEMENTSOF(list_segments), true, &pretty),
		0);
	for (const char *p = pretty; *p; p++)
		nl += *p == '\n';
	assert_true(nl > ELEMENTSOF(list_segments) * 9); /* about one line per field */
	assert_int_equal(pretty[strlen(pretty) - 1], '\n');
	assert_non_null(strstr(pretty, "9007199254740993"));
	/* the pretty document parses (as a reply, once given an "ok") to the same segments */
	free(wrapped);
	assert_true(asprintf(&wrapped, "{\"ok\":true,%s", strchr(pretty, '{') + 1) > 0);
	parse_rep_ok(wrapped, &back);
	assert_int_equal(back.n_segments, ELEMENTSOF(list_segments));
	for (size_t i = 0; i < back.n_segments; i++)
		assert_segment_equal(&back.segments[i], &list_segments[i]);
	ctl_reply_done(&back);

	assert_int_equal(ctl_segments_format_json(NULL, 0, false, &empty), 0);
	assert_string_equal(empty, "{\"segments\":[]}\n");
}

static void test_segment_info_done(void **state)
{
	struct ctl_segment_info s = { .id = strdup("a"),
				      .parent = strdup("b"),
				      .head = strdup("c"),
				      .tail = strdup("d"),
				      .state = strdup("armed"),
				      .bytes_in = 5 };

	ctl_segment_info_done(&s);
	assert_null(s.id);
	assert_null(s.parent);
	assert_null(s.state);
	assert_true(s.bytes_in == 0);
	ctl_segment_info_done(&s); /* twice is fine */
}

/* @pat with its "%s", if any, replaced by @what (not a printf format: -Wformat-nonliteral) */
static char *subst_what(const char *pat, const char *what)
{
	const char *p = strstr(pat, "%s");
	char *s = NULL;

	if (p)
		assert_true(asprintf(&s, "%.*s%s%s", (int)(p - pat), pat, what, p + 2) > 0);
	else
		s = strdup(pat);
	assert_non_null(s);
	return s;
}

/* Parses @line (of @len bytes) as a request, then as a reply: -EINVAL, a message containing
 * @err_pat (its "%s" standing for "request" or "reply"), out-params untouched. */
static void assert_both_reject(const char *line, size_t len, const char *err_pat)
{
	const char *what[] = { "request", "reply" };

	for (size_t k = 0; k < ELEMENTSOF(what); k++) {
		struct ctl_request req = REQ_SENTINEL;
		struct ctl_reply rep = { .ok = true, .id = S("sentinel") };
		_cleanup_free_ char *err = NULL, *want = NULL;
		int r;

		want = subst_what(err_pat, what[k]);
		if (k == 0)
			r = ctl_request_parse(line, len, &req, &err);
		else
			r = ctl_reply_parse(line, len, &rep, &err);
		if (r != -EINVAL || !err || !strstr(err, want))
			print_error("%s '%.*s' (%zu bytes): got %d '%s', want -EINVAL '%s'\n",
				    what[k], (int)len, line, len, r, err ? err : "(null)", want);
		assert_int_equal(r, -EINVAL);
		assert_non_null(err);
		assert_non_null(strstr(err, want));
		assert_null(strchr(err, '\n'));
		assert_int_equal(req.op, CTL_OP_VERSION);
		assert_string_equal(req.id, "sentinel");
		assert_null(req.words);
		assert_true(rep.ok);
		assert_string_equal(rep.id, "sentinel");
		assert_null(rep.segments);
		/* reterr may be NULL */
		if (k == 0)
			assert_int_equal(ctl_request_parse(line, len, &req, NULL), -EINVAL);
		else
			assert_int_equal(ctl_reply_parse(line, len, &rep, NULL), -EINVAL);
	}
}

/* A NUL byte anywhere in the line (within len) refuses it: it used to end the line there. */
static void test_rejects_nul_byte(void **state)
{
	static const char trailing[] = "{\"op\":\"ping\",\"ok\":true}\0junk";
	static const char in_string[] = "{\"op\":\"create\",\"ok\":true,\"words\":[\"url\0x\"]}";
	static const char before_nl[] = "{\"op\":\"ping\",\"ok\":true}\0\n";
	static const char first[] = "\0{\"op\":\"ping\",\"ok\":true}";
	static const char after_nl[] = "{\"op\":\"ping\",\"ok\":true}\n\0";
	struct ctl_request r = { 0 };

	assert_both_reject(trailing, sizeof(trailing) - 1, "%s contains a NUL byte");
	assert_both_reject(in_string, sizeof(in_string) - 1, "%s contains a NUL byte");
	assert_both_reject(before_nl, sizeof(before_nl) - 1, "%s contains a NUL byte");
	assert_both_reject(first, sizeof(first) - 1, "%s contains a NUL byte");
	assert_both_reject(after_nl, sizeof(after_nl) - 1, "%s contains a NUL byte");

	/* a NUL just past len is not part of the line */
	assert_int_equal(ctl_request_parse(trailing, strlen(trailing), &r, NULL), 0);
	assert_int_equal(r.op, CTL_OP_PING);
	ctl_request_done(&r);
}

/* The escape \u0000 in any string (value or key) refuses the line: it used to cut the string. */
static void test_rejects_nul_escape(void **state)
{
	static const char *const bad[] = {
		"{\"op\":\"create\",\"ok\":true,\"words\":[\"url\\u0000x\"]}",
		"{\"op\":\"create\",\"ok\":true,\"words\":[\"url\",\"\\u0000\"]}",
		"{\"op\":\"delete\",\"ok\":true,\"id\":\"web\\u0000\"}",
		"{\"op\":\"ping\",\"ok\":true,\"error\":\"\\u0000x\"}",
		"{\"op\":\"ping\",\"ok\":true,\"k\\u0000\":1}",		     /* in a key */
		"{\"op\\u0000\":\"ping\",\"ok\":true}",			     /* in a known key */
		"{\"op\":\"ping\",\"ok\":true,\"x\":[{\"y\":\"\\u0000\"}]}", /* ignored field */
		"{\"op\":\"ping\",\"ok\":true,\"x\":\"\\\\\\u0000\"}",	     /* \\ then \u0000 */
		"{\"op\":\"ping\",\"ok\":true,\"x\":\"\\\"\\u0000\"}",	     /* \" then \u0000 */
	};
	struct ctl_request r = { 0 };
	struct ctl_reply rep = { 0 };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_both_reject(bad[i], strlen(bad[i]), "%s contains \\u0000");

	/* An escaped backslash followed by the text u0000 is no NUL: kept, byte for byte. */
	parse_req_ok("{\"op\":\"create\",\"words\":[\"a\\\\u0000\",\"\\\\\\\\u0000\",\"u0000\"]}",
		     &r);
	assert_string_equal(r.words[0], "a\\u0000");
	assert_string_equal(r.words[1], "\\\\u0000");
	assert_string_equal(r.words[2], "u0000");
	assert_null(r.words[3]);
	ctl_request_done(&r);
	/* other escapes, control characters included, are fine; so is "\u0000" outside a string
	 * being impossible (that is malformed JSON) */
	parse_req_ok("{\"op\":\"create\",\"words\":[\"\\u0001\\u000a\\u000A\\u0100\\u00fc\"]}", &r);
	assert_string_equal(r.words[0], "\x01\n\n\xc4\x80\xc3\xbc");
	ctl_request_done(&r);
	parse_rep_ok("{\"ok\":false,\"error\":\"x\\\\u0000\"}", &rep);
	assert_string_equal(rep.error, "x\\u0000");
	ctl_reply_done(&rep);
	assert_both_reject("{\"op\":\"ping\",\"ok\":true}\\u0000",
			   strlen("{\"op\":\"ping\",\"ok\":true}\\u0000"), "malformed JSON");
}

/* Bytes that are not UTF-8: "invalid UTF-8 at byte N", not yajl's "lexical error". */
static void test_rejects_invalid_utf8(void **state)
{
	static const struct {
		const char *bad;
		unsigned at; /* 1-based offset of the first bad byte in the word */
	} cases[] = {
		{ "\xff", 1 },
		{ "ab\xfe", 3 },
		{ "\x80", 1 },		   /* a lone continuation byte */
		{ "\xc3", 1 },		   /* truncated: the '"' follows */
		{ "\xc3\xbc\xe2\x82", 3 }, /* a good 2-byte char, then a truncated 3-byte one */
		{ "\xc0\x80", 1 },	   /* overlong NUL */
		{ "\xc1\xbf", 1 },	   /* overlong */
		{ "\xe0\x80\xaf", 1 },	   /* overlong '/' */
		{ "\xf0\x82\x82\xac", 1 }, /* overlong */
		{ "\xed\xa0\x80", 1 },	   /* a UTF-16 surrogate */
		{ "\xf4\x90\x80\x80", 1 }, /* above U+10FFFF */
		{ "\xf5\x80\x80\x80", 1 },
		{ "\xe2\x28\xa1", 1 }, /* bad second byte */
		{ "\xe2\x82\x28", 1 }, /* bad third byte */
	};
	/* the prefix of every line below, up to the word: {"op":"create","ok":true,"words":[" */
	const size_t pre = strlen("{\"op\":\"create\",\"ok\":true,\"words\":[\"");
	char *good[] = { S("\xc3\xbc"),		S("\xe2\x82\xac"),
			 S("\xef\xbf\xbf"),	S("\xf0\x9f\x98\x80"),
			 S("\xf4\x8f\xbf\xbf"), S("\xed\x9f\xbf"),
			 S("\xee\x80\x80"),	NULL };
	struct ctl_request gr = { .op = CTL_OP_CREATE, .words = good }, back = { 0 };
	_cleanup_free_ char *gline = NULL;

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *line = NULL, *want = NULL;

		assert_true(asprintf(&line, "{\"op\":\"create\",\"ok\":true,\"words\":[\"%s\"]}",
				     cases[i].bad) > 0);
		assert_true(asprintf(&want, "invalid UTF-8 at byte %zu of the %%s",
				     pre + cases[i].at) > 0);
		assert_both_reject(line, strlen(line), want);
	}

	/* The CLI formats such a word as is; the daemon's parser names the problem. */
	{
		char *w[] = { S("url"), S("\xff:9000"), NULL };
		struct ctl_request req = { .op = CTL_OP_CREATE, .words = w };
		_cleanup_free_ char *line = NULL;

		assert_int_equal(ctl_request_format(&req, &line), 0);
		assert_both_reject(line, strlen(line), "invalid UTF-8 at byte 32 of the %s");
	}

	/* every length of valid sequence, the edges of each range included, round-trips */
	assert_int_equal(ctl_request_format(&gr, &gline), 0);
	parse_req_ok(gline, &back);
	for (size_t i = 0; good[i]; i++)
		assert_string_equal(back.words[i], good[i]);
	ctl_request_done(&back);
}

/* Counters at and above 2^63 are written as INT64_MAX (yajl integers are long long), never as a
 * negative number that the other side would refuse. */
static void test_counters_clamped(void **state)
{
	struct ctl_segment_info seg = { .id = S("big"),
					.head = S("h"),
					.tail = S("t"),
					.state = S("listening"),
					.conns_active = 9223372036854775807ull,
					.conns_total = 9223372036854775808ull,
					.bytes_in = 18446744073709551615ull,
					.bytes_out = 9223372036854775806ull };
	struct ctl_reply rep = { .ok = true,
				 .segments = &seg,
				 .n_segments = 1,
				 .has_segments = true },
			 back = { 0 };
	_cleanup_free_ char *line = NULL, *json = NULL, *wrapped = NULL;
	static const char want[] =
		"{\"ok\":true,\"segments\":[{\"id\":\"big\",\"parent\":null,\"head\":\"h\","
		"\"tail\":\"t\",\"state\":\"listening\",\"conns_active\":9223372036854775807,"
		"\"conns_total\":9223372036854775807,\"bytes_in\":9223372036854775807,"
		"\"bytes_out\":9223372036854775806}]}\n";

	assert_int_equal(ctl_reply_format(&rep, &line), 0);
	assert_string_equal(line, want);
	assert_null(strchr(line, '-'));
	parse_rep_ok(line, &back);
	assert_int_equal(back.n_segments, 1);
	assert_true(back.segments[0].conns_active == INT64_MAX);
	assert_true(back.segments[0].conns_total == INT64_MAX);
	assert_true(back.segments[0].bytes_in == INT64_MAX);
	assert_true(back.segments[0].bytes_out == INT64_MAX - 1);
	ctl_reply_done(&back);

	/* the same in `list --json` */
	assert_int_equal(ctl_segments_format_json(&seg, 1, false, &json), 0);
	assert_true(asprintf(&wrapped, "{%s", want + strlen("{\"ok\":true,")) > 0);
	assert_string_equal(json, wrapped);
}

/* The same key twice in an object is refused, wherever the parsers read keys (issue 10 item 9):
 * first-wins would let {"op":"list","op":"delete"} mean what the first reader looked at. */
static void test_duplicate_keys(void **state)
{
	static const char *const reqs[] = {
		"{\"op\":\"list\",\"op\":\"delete\",\"id\":\"a\"}",
		"{\"op\":\"delete\",\"id\":\"a\",\"id\":\"b\"}",
		"{\"op\":\"create\",\"words\":[\"url\",\":1\"],\"words\":[\"url\",\":2\"]}",
		"{\"op\":\"ping\",\"x\":1,\"y\":2,\"x\":3}",
	};
	static const char *const reps[] = {
		"{\"ok\":true,\"ok\":false}",
		"{\"ok\":false,\"error\":\"a\",\"error\":\"b\"}",
		"{\"progress\":\"a\",\"progress\":\"b\"}",
		"{\"ok\":true,\"segments\":[{\"id\":\"a\",\"id\":\"b\"}]}",
		"{\"segment\":{\"id\":\"a\",\"bytes_in\":1,\"bytes_in\":2}}",
		"{\"segment\":{\"id\":\"a\"},\"segment\":{\"id\":\"b\"}}",
		"{\"ok\":true,\"count\":1,\"count\":2}",
	};

	for (size_t i = 0; i < ELEMENTSOF(reqs); i++) {
		struct ctl_request req = REQ_SENTINEL;
		_cleanup_free_ char *err = NULL;

		assert_int_equal(ctl_request_parse(reqs[i], strlen(reqs[i]), &req, &err), -EINVAL);
		assert_non_null(err);
		if (!strstr(err, "duplicate key"))
			print_error("'%s': %s\n", reqs[i], err);
		assert_non_null(strstr(err, "duplicate key"));
		assert_string_equal(req.id, "sentinel");
	}
	for (size_t i = 0; i < ELEMENTSOF(reps); i++) {
		struct ctl_reply rep = { .ok = true, .id = S("sentinel") };
		_cleanup_free_ char *err = NULL;

		assert_int_equal(ctl_reply_parse(reps[i], strlen(reps[i]), &rep, &err), -EINVAL);
		assert_non_null(err);
		if (!strstr(err, "duplicate key"))
			print_error("'%s': %s\n", reps[i], err);
		assert_non_null(strstr(err, "duplicate key"));
		assert_string_equal(rep.id, "sentinel");
	}
	/* the message names the key; distinct keys in any order are fine */
	{
		_cleanup_free_ char *err = NULL;
		struct ctl_request req = { 0 };
		const char *l = "{\"id\":\"a\",\"op\":\"delete\",\"id\":\"a\"}";

		assert_int_equal(ctl_request_parse(l, strlen(l), &req, &err), -EINVAL);
		assert_string_equal(err, "duplicate key 'id' in the request");
		parse_req_ok("{\"id\":\"a\",\"op\":\"delete\"}", &req);
		assert_string_equal(req.id, "a");
		ctl_request_done(&req);
	}
}

/* A streamed list: {"segment":{...}} per segment, then {"ok":true,"count":N}. */
/* A balancing segment's line carries each tail: address, state and counts, and back. */
static void test_reply_segment_tails(void **state)
{
	struct ctl_tail_info tails[] = {
		{ .address = S("tcp://127.0.0.1:8081"),
		  .state = S("up"),
		  .conns_active = 1,
		  .conns_total = 10 },
		{ .address = S("tcp://127.0.0.1:8082"),
		  .state = S("down"),
		  .conns_total = 3,
		  .failures = 2 },
	};
	struct ctl_segment_info seg = { .id = S("web"),
					.tail = S("round-robin: ..."),
					.tails = tails,
					.n_tails = ELEMENTSOF(tails) };
	_cleanup_free_ char *line = NULL;
	struct ctl_reply back = { 0 };
	static const char *const bad[] = {
		"{\"segment\":{\"id\":\"a\",\"tails\":{}}}",
		"{\"segment\":{\"id\":\"a\",\"tails\":[1]}}",
		"{\"segment\":{\"id\":\"a\",\"tails\":[{\"failures\":-1}]}}",
	};

	assert_int_equal(
		ctl_reply_format(&(struct ctl_reply){ .has_segment = true, .segment = seg }, &line),
		0);
	assert_non_null(strstr(line, "\"tails\":[{\"address\":\"tcp://127.0.0.1:8081\","
				     "\"state\":\"up\",\"conns_active\":1,\"conns_total\":10,"
				     "\"failures\":0},{\"address\":\"tcp://127.0.0.1:8082\","
				     "\"state\":\"down\",\"conns_active\":0,\"conns_total\":3,"
				     "\"failures\":2}]"));
	parse_rep_ok(line, &back);
	assert_int_equal(back.segment.n_tails, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(back.segment.tails[i].address, tails[i].address);
		assert_string_equal(back.segment.tails[i].state, tails[i].state);
		assert_true(back.segment.tails[i].conns_active == tails[i].conns_active);
		assert_true(back.segment.tails[i].conns_total == tails[i].conns_total);
		assert_true(back.segment.tails[i].failures == tails[i].failures);
	}
	ctl_reply_done(&back);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct ctl_reply rep = { 0 };
		_cleanup_free_ char *err = NULL;

		assert_int_equal(ctl_reply_parse(bad[i], strlen(bad[i]), &rep, &err), -EINVAL);
		assert_non_null(err);
		ctl_reply_done(&rep);
	}
	/* a segment without several tails has no "tails" key */
	free(line);
	line = NULL;
	seg.tails = NULL;
	seg.n_tails = 0;
	assert_int_equal(
		ctl_reply_format(&(struct ctl_reply){ .has_segment = true, .segment = seg }, &line),
		0);
	assert_null(strstr(line, "tails"));
}

static void test_reply_segment_lines(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(list_segments); i++) {
		_cleanup_free_ char *line = NULL;
		struct ctl_reply back = { 0 };

		assert_int_equal(
			ctl_reply_format(&(struct ctl_reply){ .has_segment = true,
							      .segment = list_segments[i] },
					 &line),
			0);
		assert_true(strncmp(line, "{\"segment\":{\"id\":", 17) == 0);
		assert_non_null(strchr(line, '\n'));
		assert_true(strchr(line, '\n')[1] == '\0');
		parse_rep_ok(line, &back);
		assert_true(back.has_segment);
		assert_false(back.has_count);
		assert_null(back.progress);
		assert_segment_equal(&back.segment, &list_segments[i]);
		ctl_reply_done(&back);
		assert_false(back.has_segment);
		assert_null(back.segment.id);
	}
	{
		_cleanup_free_ char *line = NULL;
		struct ctl_reply back = { 0 };

		assert_int_equal(ctl_reply_format(&(struct ctl_reply){ .ok = true,
								       .has_count = true,
								       .count = 100000 },
						  &line),
				 0);
		assert_string_equal(line, "{\"ok\":true,\"count\":100000}\n");
		parse_rep_ok(line, &back);
		assert_true(back.ok);
		assert_true(back.has_count);
		assert_true(back.count == 100000);
		assert_false(back.has_segment);
		ctl_reply_done(&back);
	}
	{
		static const struct {
			const char *line, *err;
		} bad[] = {
			{ "{\"segment\":1}", "a segment must be an object" },
			{ "{\"segment\":{\"head\":\"h\"}}", "a segment needs an 'id'" },
			{ "{\"segment\":{\"id\":\"a\",\"bytes_in\":-1}}", "'bytes_in'" },
			{ "{\"ok\":true,\"count\":-1}", "'count' must be a non-negative integer" },
			{ "{\"ok\":true,\"count\":\"3\"}",
			  "'count' must be a non-negative integer" },
		};

		for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
			struct ctl_reply rep = { .ok = true, .id = S("sentinel") };
			_cleanup_free_ char *err = NULL;

			assert_int_equal(
				ctl_reply_parse(bad[i].line, strlen(bad[i].line), &rep, &err),
				-EINVAL);
			if (!err || !strstr(err, bad[i].err))
				print_error("'%s': %s\n", bad[i].line, err ? err : "(null)");
			assert_non_null(strstr(err, bad[i].err));
			assert_string_equal(rep.id, "sentinel");
		}
	}
}

/* An escape that decodes to bytes that are not UTF-8 (a lone low surrogate; yajl itself turns a
 * lone high one into '?'. Found by fuzz-ctl-proto:
 * the request parsed, formatted, and the formatted line was then refused). */
static void test_rejects_lone_surrogate(void **state)
{
	static const char *const reqs[] = {
		"{\"op\":\"create\",\"words\":[\"url\",\"unix:3d\\ude00\"]}",
		"{\"op\":\"delete\",\"id\":\"a\\udc00b\"}",
	};
	static const char *const reps[] = {
		"{\"ok\":false,\"error\":\"x\\udfff\"}",
		"{\"segment\":{\"id\":\"\\ude00\"}}",
	};

	for (size_t i = 0; i < ELEMENTSOF(reqs); i++) {
		struct ctl_request req = REQ_SENTINEL;
		_cleanup_free_ char *err = NULL;

		assert_int_equal(ctl_request_parse(reqs[i], strlen(reqs[i]), &req, &err), -EINVAL);
		assert_non_null(strstr(err, "not valid UTF-8"));
		assert_string_equal(req.id, "sentinel");
	}
	for (size_t i = 0; i < ELEMENTSOF(reps); i++) {
		struct ctl_reply rep = { 0 };
		_cleanup_free_ char *err = NULL;

		assert_int_equal(ctl_reply_parse(reps[i], strlen(reps[i]), &rep, &err), -EINVAL);
		assert_non_null(strstr(err, "not valid UTF-8"));
	}
	/* a proper pair is fine */
	{
		struct ctl_request req = { 0 };

		parse_req_ok("{\"op\":\"delete\",\"id\":\"\\ud83d\\ude00\"}", &req);
		assert_string_equal(req.id, "\xf0\x9f\x98\x80");
		ctl_request_done(&req);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_op_names),
		cmocka_unit_test(test_request_round_trip_every_op),
		cmocka_unit_test(test_request_words_escaping),
		cmocka_unit_test(test_request_parse_variants),
		cmocka_unit_test(test_request_format_refusals),
		cmocka_unit_test(test_request_rejects),
		cmocka_unit_test(test_request_unknown_op_is_truncated),
		cmocka_unit_test(test_line_max),
		cmocka_unit_test(test_request_deep_nesting),
		cmocka_unit_test(test_reply_list_round_trip),
		cmocka_unit_test(test_reply_list_empty),
		cmocka_unit_test(test_reply_show_round_trip),
		cmocka_unit_test(test_reply_segment_defaults),
		cmocka_unit_test(test_reply_round_trips),
		cmocka_unit_test(test_progress_lines),
		cmocka_unit_test(test_reply_rejects),
		cmocka_unit_test(test_segments_format_json),
		cmocka_unit_test(test_segment_info_done),
		cmocka_unit_test(test_rejects_nul_byte),
		cmocka_unit_test(test_rejects_nul_escape),
		cmocka_unit_test(test_rejects_invalid_utf8),
		cmocka_unit_test(test_counters_clamped),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_reply_segment_tails),
		cmocka_unit_test(test_reply_segment_lines),
		cmocka_unit_test(test_rejects_lone_surrogate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
