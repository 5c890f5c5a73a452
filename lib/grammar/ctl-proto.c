/* SPDX-License-Identifier: MIT */
/*
 * ctl-proto.c - JSON lines for the control socket, built with yajl_gen and read with yajl_tree
 *
 * Every field is type-checked before use: a request whose "words" is not an array of strings, or
 * whose "id" is not a string, is refused with a message rather than half-understood.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "ctl-proto.h"
#include "errmsg.h"
#include "spec.h"

static const char *const ctl_op_names[_CTL_OP_MAX] = {
	[CTL_OP_CREATE] = "create",
	[CTL_OP_DELETE] = "delete",
	[CTL_OP_LIST] = "list",
	[CTL_OP_PING] = "ping",
	[CTL_OP_VERSION] = "version",
	[CTL_OP_RENEW] = "renew",
	[CTL_OP_TUNNEL_CREATE] = "tunnel-create",
	[CTL_OP_TUNNEL_DELETE] = "tunnel-delete",
	[CTL_OP_TUNNEL_LIST] = "tunnel-list",
	[CTL_OP_TUNNEL_PREPARE] = "tunnel-prepare",
	[CTL_OP_TUNNEL_INSTALL] = "tunnel-install",
	[CTL_OP_TUNNEL_REKEY] = "tunnel-rekey",
	[CTL_OP_SHOW] = "show",
	[CTL_OP_HELLO] = "hello",
	[CTL_OP_LINK] = "link",
	[CTL_OP_UNLINK] = "unlink",
};

const char *ctl_op_name(enum ctl_op op)
{
	return op < _CTL_OP_MAX ? ctl_op_names[op] : "?";
}

static void yajl_gen_freep(yajl_gen *g)
{
	if (*g)
		yajl_gen_free(*g);
}

static void yajl_tree_freep(yajl_val *v)
{
	if (*v)
		yajl_tree_free(*v);
}

static int gen_str(yajl_gen g, const char *s)
{
	return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_status_ok
		       ? 0
		       : -ENOMEM;
}

static int gen_kv(yajl_gen g, const char *k, const char *v)
{
	if (gen_str(g, k) < 0)
		return -ENOMEM;
	if (!v)
		return yajl_gen_null(g) == yajl_gen_status_ok ? 0 : -ENOMEM;
	return gen_str(g, v);
}

/* A counter; beyond INT64_MAX (yajl's integers are long long) it is clamped, not wrapped. */
static int gen_ku(yajl_gen g, const char *k, uint64_t v)
{
	if (gen_str(g, k) < 0)
		return -ENOMEM;
	if (v > INT64_MAX)
		v = INT64_MAX;
	return yajl_gen_integer(g, (long long)v) == yajl_gen_status_ok ? 0 : -ENOMEM;
}

/* Takes the generated text, adds '\n', NUL-terminates. */
static int gen_finish(yajl_gen g, char **ret)
{
	const unsigned char *buf;
	size_t len;
	char *s;

	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		return -ENOMEM;
	s = malloc(len + 2);
	if (!s)
		return -ENOMEM;
	memcpy(s, buf, len);
	if (len == 0 || s[len - 1] != '\n')
		s[len++] = '\n';
	s[len] = 0;
	*ret = s;
	return 0;
}

static int gen_tunnel(yajl_gen g, const struct ctl_tunnel *t)
{
	int r = 0;

	yajl_gen_map_open(g);
	if (t->peer)
		r = r ?: gen_kv(g, "peer", t->peer);
	if (t->local)
		r = r ?: gen_kv(g, "local", t->local);
	if (t->remote)
		r = r ?: gen_kv(g, "remote", t->remote);
	if (t->local_ov)
		r = r ?: gen_kv(g, "local_ov", t->local_ov);
	if (t->remote_ov)
		r = r ?: gen_kv(g, "remote_ov", t->remote_ov);
	if (t->encap)
		r = r ?: gen_kv(g, "encap", t->encap);
	if (t->state)
		r = r ?: gen_kv(g, "state", t->state);
	r = r ?: gen_ku(g, "reqid", t->reqid);
	r = r ?: gen_ku(g, "out_spi", t->out_spi);
	r = r ?: gen_ku(g, "in_spi", t->in_spi);
	if (t->out_key)
		r = r ?: gen_kv(g, "out_key", t->out_key);
	if (t->in_key)
		r = r ?: gen_kv(g, "in_key", t->in_key);
	r = r ?: gen_ku(g, "local_port", t->local_port);
	r = r ?: gen_ku(g, "remote_port", t->remote_port);
	r = r ?: gen_ku(g, "rekey_sec", t->rekey_sec);
	r = r ?: gen_ku(g, "out_bytes", t->out_bytes);
	r = r ?: gen_ku(g, "out_packets", t->out_packets);
	r = r ?: gen_ku(g, "in_bytes", t->in_bytes);
	r = r ?: gen_ku(g, "in_packets", t->in_packets);
	r = r ?: gen_ku(g, "rekeys", t->rekeys);
	yajl_gen_map_close(g);
	return r;
}

static bool op_is_tunnel_peer(enum ctl_op op)
{
	return op == CTL_OP_TUNNEL_PREPARE || op == CTL_OP_TUNNEL_INSTALL ||
	       op == CTL_OP_TUNNEL_REKEY;
}

int ctl_request_format(const struct ctl_request *req, char **ret)
{
	_cleanup_(yajl_gen_freep) yajl_gen g = yajl_gen_alloc(NULL);
	int r;

	if (!g)
		return -ENOMEM;
	if (req->op >= _CTL_OP_MAX)
		return -EINVAL;
	yajl_gen_map_open(g);
	r = gen_kv(g, "op", ctl_op_name(req->op));
	if (r < 0)
		return r;
	if (req->op == CTL_OP_DELETE || req->op == CTL_OP_RENEW || req->op == CTL_OP_SHOW) {
		if (!req->id)
			return -EINVAL;
		r = gen_kv(g, "id", req->id);
		if (r < 0)
			return r;
	}
	if (req->op == CTL_OP_HELLO || req->op == CTL_OP_LINK || req->op == CTL_OP_UNLINK) {
		if (!req->name)
			return -EINVAL;
		r = gen_kv(g, "name", req->name);
		if (r == 0 && req->instance)
			r = gen_kv(g, "instance", req->instance);
		if (r < 0)
			return r;
	}
	if (req->op == CTL_OP_CREATE) {
		if (!req->words)
			return -EINVAL;
		r = gen_str(g, "words");
		if (r < 0)
			return r;
		yajl_gen_array_open(g);
		for (char **w = req->words; *w; w++) {
			r = gen_str(g, *w);
			if (r < 0)
				return r;
		}
		yajl_gen_array_close(g);
		if (req->peer_head) {
			r = gen_kv(g, "peer_head", req->peer_head);
			if (r < 0)
				return r;
		}
	}
	if (req->op == CTL_OP_TUNNEL_CREATE || (req->op == CTL_OP_TUNNEL_DELETE && !req->tunnel)) {
		if (!req->host)
			return -EINVAL;
		r = gen_kv(g, "host", req->host);
		if (r == 0 && req->op == CTL_OP_TUNNEL_CREATE)
			r = gen_str(g, "udp")
				    ?: (yajl_gen_bool(g, req->udp) == yajl_gen_status_ok ? 0
											 : -ENOMEM);
		if (r < 0)
			return r;
	}
	if (op_is_tunnel_peer(req->op) && !req->tunnel)
		return -EINVAL;
	if (req->op == CTL_OP_TUNNEL_REKEY) {
		r = gen_ku(g, "step", req->step);
		if (r < 0)
			return r;
	}
	if (req->tunnel && (op_is_tunnel_peer(req->op) || req->op == CTL_OP_TUNNEL_DELETE)) {
		r = gen_str(g, "tunnel");
		r = r ?: gen_tunnel(g, req->tunnel);
		if (r < 0)
			return r;
	}
	yajl_gen_map_close(g);
	return gen_finish(g, ret);
}

#define set_err ERRMSG_FAIL

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. Returns the
 * length of the valid prefix, so == @len when all of @s is valid.
 */
static size_t utf8_valid_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf; /* range of the byte after the lead */
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return i;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* UTF-16 surrogates */
		else if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
		if (len - i <= n || s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return i;
		i += n + 1;
	}
	return len;
}

/*
 * True if a string (a key or a value) of @json, valid JSON, holds the escape \u0000: yajl_tree
 * hands out NUL-terminated strings, so "url\u0000x" would silently become "url". Escapes exist
 * only inside strings, and "\\u0000" is a backslash followed by "u0000", hence the escape-aware
 * walk rather than a plain search.
 */
static bool has_nul_escape(const char *json, size_t len)
{
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		if (json[i] == '"') {
			in_string = !in_string;
		} else if (in_string && json[i] == '\\') {
			if (len - i > 5 && memcmp(json + i + 1, "u0000", 5) == 0)
				return true;
			i++; /* the escaped character: not a quote, not a backslash */
		}
	}
	return false;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * yajl_tree keeps every key of an object, duplicates included, and a lookup finds the first: so
 * {"op":"list","op":"delete"} would mean whatever the reader happens to look at first. Refuse such
 * objects instead. Sorting a copy of the keys keeps this O(k log k) for an object of k keys (a
 * line of CTL_LINE_MAX may hold tens of thousands).
 */
static int obj_check_unique(yajl_val obj, const char *what, char **reterr)
{
	_cleanup_free_ const char **keys = NULL;
	size_t n = obj->u.object.len;

	if (n < 2)
		return 0;
	keys = malloc(n * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	memcpy(keys, obj->u.object.keys, n * sizeof(*keys));
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(keys[i - 1], keys[i]) == 0)
			return set_err(reterr, "duplicate key '%.64s' in the %s", keys[i], what);
	return 0;
}

/*
 * Copies the line into a NUL-terminated buffer and parses it; the caller frees the tree. @what
 * ("request", "reply") names the line in messages. Bytes yajl_tree would silently lose or
 * misreport are refused first: a NUL byte (the copy would end there), text that is not UTF-8
 * (yajl calls it a "lexical error"), and \u0000 in a string.
 */
static int parse_tree(const char *line, size_t len, const char *what, yajl_val *ret, char **reterr)
{
	_cleanup_free_ char *buf = NULL;
	char errbuf[256] = "";
	size_t valid;
	yajl_val v;
	int r;

	if (len > CTL_LINE_MAX)
		return -E2BIG;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (memchr(line, '\0', len))
		return set_err(reterr, "%s contains a NUL byte", what);
	valid = utf8_valid_prefix((const unsigned char *)line, len);
	if (valid < len)
		return set_err(reterr, "invalid UTF-8 at byte %zu of the %s", valid + 1, what);
	buf = strndup(line, len);
	if (!buf)
		return -ENOMEM;
	v = yajl_tree_parse(buf, errbuf, sizeof(errbuf));
	if (!v) {
		errbuf[strcspn(errbuf, "\n")] = 0;
		return set_err(reterr, "malformed JSON: %s", errbuf[0] ? errbuf : "parse error");
	}
	if (has_nul_escape(buf, len)) {
		yajl_tree_free(v);
		return set_err(reterr, "%s contains \\u0000 (a NUL byte) in a string", what);
	}
	if (!YAJL_IS_OBJECT(v)) {
		yajl_tree_free(v);
		return set_err(reterr, "a message must be a JSON object");
	}
	r = obj_check_unique(v, what, reterr);
	if (r < 0) {
		yajl_tree_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

static yajl_val obj_get(yajl_val obj, const char *key)
{
	const char *path[] = { key, NULL };

	return yajl_tree_get(obj, path, yajl_t_any);
}

/*
 * A copy of a decoded string. The line itself was checked to be UTF-8, but an escape can still
 * decode to something that is not: yajl turns a lone surrogate ("\ude00") into the bytes of one,
 * which we would then pass on (and which our own parser refuses when it comes back).
 */
static int dup_utf8(const char *s, const char *key, char **ret, char **reterr)
{
	size_t len = strlen(s);

	if (utf8_valid_prefix((const unsigned char *)s, len) < len)
		return set_err(reterr, "'%s' is not valid UTF-8 (a lone surrogate escape?)", key);
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

/* Optional string field: absent/null -> NULL; wrong type -> -EINVAL. */
static int get_str(yajl_val obj, const char *key, char **ret, char **reterr)
{
	yajl_val v = obj_get(obj, key);

	if (!v || YAJL_IS_NULL(v)) {
		*ret = NULL;
		return 0;
	}
	if (!YAJL_IS_STRING(v))
		return set_err(reterr, "'%s' must be a string", key);
	return dup_utf8(YAJL_GET_STRING(v) ?: "", key, ret, reterr);
}

static int get_u64(yajl_val obj, const char *key, uint64_t *ret, char **reterr)
{
	yajl_val v = obj_get(obj, key);

	if (!v) {
		*ret = 0;
		return 0;
	}
	if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0)
		return set_err(reterr, "'%s' must be a non-negative integer", key);
	*ret = (uint64_t)YAJL_GET_INTEGER(v);
	return 0;
}

static int parse_tunnel(yajl_val o, struct ctl_tunnel *t, char **reterr)
{
	int r;

	if (!YAJL_IS_OBJECT(o))
		return set_err(reterr, "'tunnel' must be an object");
	r = obj_check_unique(o, "tunnel", reterr);
	r = r ?: get_str(o, "peer", &t->peer, reterr);
	r = r ?: get_str(o, "local", &t->local, reterr);
	r = r ?: get_str(o, "remote", &t->remote, reterr);
	r = r ?: get_str(o, "local_ov", &t->local_ov, reterr);
	r = r ?: get_str(o, "remote_ov", &t->remote_ov, reterr);
	r = r ?: get_str(o, "encap", &t->encap, reterr);
	r = r ?: get_str(o, "state", &t->state, reterr);
	r = r ?: get_str(o, "out_key", &t->out_key, reterr);
	r = r ?: get_str(o, "in_key", &t->in_key, reterr);
	r = r ?: get_u64(o, "reqid", &t->reqid, reterr);
	r = r ?: get_u64(o, "out_spi", &t->out_spi, reterr);
	r = r ?: get_u64(o, "in_spi", &t->in_spi, reterr);
	r = r ?: get_u64(o, "local_port", &t->local_port, reterr);
	r = r ?: get_u64(o, "remote_port", &t->remote_port, reterr);
	r = r ?: get_u64(o, "rekey_sec", &t->rekey_sec, reterr);
	r = r ?: get_u64(o, "out_bytes", &t->out_bytes, reterr);
	r = r ?: get_u64(o, "out_packets", &t->out_packets, reterr);
	r = r ?: get_u64(o, "in_bytes", &t->in_bytes, reterr);
	r = r ?: get_u64(o, "in_packets", &t->in_packets, reterr);
	r = r ?: get_u64(o, "rekeys", &t->rekeys, reterr);
	return r;
}

static int parse_request_tunnel(yajl_val v, struct ctl_request *req, char **reterr)
{
	yajl_val udp, tun;
	int r;

	if (req->op == CTL_OP_TUNNEL_CREATE || req->op == CTL_OP_TUNNEL_DELETE) {
		r = get_str(v, "host", &req->host, reterr);
		if (r < 0)
			return r;
	}
	if (req->op == CTL_OP_TUNNEL_CREATE) {
		udp = obj_get(v, "udp");
		if (udp && !YAJL_IS_TRUE(udp) && !YAJL_IS_FALSE(udp))
			return set_err(reterr, "'udp' must be a boolean");
		req->udp = udp && YAJL_IS_TRUE(udp);
	}
	if (req->op == CTL_OP_TUNNEL_REKEY) {
		r = get_u64(v, "step", &req->step, reterr);
		if (r < 0)
			return r;
		if (req->step != 1 && req->step != 2)
			return set_err(reterr, "'step' must be 1 or 2");
	}
	tun = obj_get(v, "tunnel");
	if (tun && (op_is_tunnel_peer(req->op) || req->op == CTL_OP_TUNNEL_DELETE)) {
		req->tunnel = calloc(1, sizeof(*req->tunnel));
		if (!req->tunnel)
			return -ENOMEM;
		r = parse_tunnel(tun, req->tunnel, reterr);
		if (r < 0)
			return r;
	}
	if (op_is_tunnel_peer(req->op) && !req->tunnel)
		return set_err(reterr, "%s needs 'tunnel'", ctl_op_names[req->op]);
	if ((req->op == CTL_OP_TUNNEL_CREATE || req->op == CTL_OP_TUNNEL_DELETE) && !req->host &&
	    !req->tunnel)
		return set_err(reterr, "%s needs 'host'", ctl_op_names[req->op]);
	return 0;
}

int ctl_request_parse(const char *line, size_t len, struct ctl_request *ret, char **reterr)
{
	_cleanup_(yajl_tree_freep) yajl_val v = NULL;
	struct ctl_request req = { .op = _CTL_OP_MAX };
	yajl_val op, words;
	int r;

	r = parse_tree(line, len, "request", &v, reterr);
	if (r < 0)
		return r;
	op = obj_get(v, "op");
	if (!op || !YAJL_IS_STRING(op))
		return set_err(reterr, "'op' must be a string");
	for (unsigned i = 0; i < _CTL_OP_MAX; i++)
		if (strcmp(YAJL_GET_STRING(op) ?: "", ctl_op_names[i]) == 0)
			req.op = i;
	if (req.op == _CTL_OP_MAX)
		return set_err(reterr, "unknown op '%.64s'", YAJL_GET_STRING(op));

	if (req.op == CTL_OP_DELETE || req.op == CTL_OP_RENEW || req.op == CTL_OP_SHOW) {
		r = get_str(v, "id", &req.id, reterr);
		if (r < 0)
			return r;
		if (!req.id)
			return set_err(reterr, "%s needs 'id'", ctl_op_names[req.op]);
	}
	if (req.op == CTL_OP_HELLO || req.op == CTL_OP_LINK || req.op == CTL_OP_UNLINK) {
		r = get_str(v, "name", &req.name, reterr);
		if (r == 0)
			r = get_str(v, "instance", &req.instance, reterr);
		if (r < 0) {
			ctl_request_done(&req);
			return r;
		}
		if (!req.name || !req.name[0]) {
			ctl_request_done(&req);
			return set_err(reterr, "%s needs 'name'", ctl_op_names[req.op]);
		}
	}
	if (req.op == CTL_OP_CREATE) {
		words = obj_get(v, "words");
		if (!words || !YAJL_IS_ARRAY(words))
			return set_err(reterr, "'words' must be an array of strings");
		req.words = calloc(words->u.array.len + 1, sizeof(char *));
		if (!req.words)
			return -ENOMEM;
		for (size_t i = 0; i < words->u.array.len; i++) {
			yajl_val w = words->u.array.values[i];

			if (!YAJL_IS_STRING(w)) {
				ctl_request_done(&req);
				return set_err(reterr, "'words' must be an array of strings");
			}
			r = dup_utf8(YAJL_GET_STRING(w) ?: "", "words", &req.words[i], reterr);
			if (r < 0) {
				ctl_request_done(&req);
				return r;
			}
		}
		r = get_str(v, "peer_head", &req.peer_head, reterr);
		if (r < 0) {
			ctl_request_done(&req);
			return r;
		}
	}
	r = parse_request_tunnel(v, &req, reterr);
	if (r < 0) {
		ctl_request_done(&req);
		return r;
	}
	*ret = req;
	return 0;
}

void ctl_request_done(struct ctl_request *r)
{
	free(r->id);
	strv_free(r->words);
	free(r->peer_head);
	free(r->name);
	free(r->instance);
	free(r->host);
	if (r->tunnel)
		ctl_tunnel_done(r->tunnel);
	free(r->tunnel);
	*r = (struct ctl_request){ 0 };
}

static int gen_segment(yajl_gen g, const struct ctl_segment_info *s)
{
	int r = 0;

	yajl_gen_map_open(g);
	r = r ?: gen_kv(g, "id", s->id);
	r = r ?: gen_kv(g, "parent", s->parent);
	r = r ?: gen_kv(g, "head", s->head);
	r = r ?: gen_kv(g, "tail", s->tail);
	r = r ?: gen_kv(g, "state", s->state);
	r = r ?: gen_ku(g, "conns_active", s->conns_active);
	r = r ?: gen_ku(g, "conns_total", s->conns_total);
	r = r ?: gen_ku(g, "bytes_in", s->bytes_in);
	r = r ?: gen_ku(g, "bytes_out", s->bytes_out);
	yajl_gen_map_close(g);
	return r;
}

static int gen_link(yajl_gen g, const struct ctl_link_info *l)
{
	int r = 0;

	yajl_gen_map_open(g);
	r = r ?: gen_kv(g, "name", l->name);
	r = r ?: gen_kv(g, "address", l->address);
	r = r ?: gen_kv(g, "direction", l->direction);
	r = r ?: gen_kv(g, "state", l->state);
	r = r ?: gen_kv(g, "key", l->key);
	r = r ?: gen_ku(g, "age", l->age_sec);
	r = r ?: gen_ku(g, "streams", l->streams);
	r = r ?: gen_ku(g, "bytes_in", l->bytes_in);
	r = r ?: gen_ku(g, "bytes_out", l->bytes_out);
	yajl_gen_map_close(g);
	return r;
}

static int gen_segments(yajl_gen g, const struct ctl_segment_info *s, size_t n)
{
	int r;

	r = gen_str(g, "segments");
	if (r < 0)
		return r;
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n; i++) {
		r = gen_segment(g, &s[i]);
		if (r < 0)
			return r;
	}
	yajl_gen_array_close(g);
	return 0;
}

static int gen_conns(yajl_gen g, const struct ctl_conn_info *c, size_t n, uint64_t more)
{
	int r;

	r = gen_str(g, "conns");
	if (r < 0)
		return r;
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n && r == 0; i++) {
		yajl_gen_map_open(g);
		r = r ?: gen_kv(g, "segment", c[i].segment);
		r = r ?: gen_ku(g, "id", c[i].id);
		r = r ?: gen_kv(g, "client", c[i].client);
		r = r ?: gen_kv(g, "tail", c[i].tail);
		r = r ?: gen_kv(g, "state", c[i].state);
		r = r ?: gen_ku(g, "age_ms", c[i].age_ms);
		r = r ?: gen_ku(g, "bytes_in", c[i].bytes_in);
		r = r ?: gen_ku(g, "bytes_out", c[i].bytes_out);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	return r ?: gen_ku(g, "conns_more", more);
}

static int gen_tunnels(yajl_gen g, const struct ctl_tunnel *t, size_t n)
{
	int r;

	r = gen_str(g, "tunnels");
	if (r < 0)
		return r;
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n; i++) {
		r = gen_tunnel(g, &t[i]);
		if (r < 0)
			return r;
	}
	yajl_gen_array_close(g);
	return 0;
}

int ctl_reply_format(const struct ctl_reply *rep, char **ret)
{
	_cleanup_(yajl_gen_freep) yajl_gen g = yajl_gen_alloc(NULL);
	int r = 0;

	if (!g)
		return -ENOMEM;
	yajl_gen_map_open(g);
	if (rep->has_segment) {
		r = gen_str(g, "segment");
		r = r ?: gen_segment(g, &rep->segment);
	} else if (rep->has_link) {
		r = gen_str(g, "link");
		r = r ?: gen_link(g, &rep->link);
	} else if (rep->progress) {
		r = gen_kv(g, "progress", rep->progress);
	} else {
		r = gen_str(g, "ok");
		if (r == 0 && yajl_gen_bool(g, rep->ok) != yajl_gen_status_ok)
			r = -ENOMEM;
		if (rep->error)
			r = r ?: gen_kv(g, "error", rep->error);
		if (rep->id)
			r = r ?: gen_kv(g, "id", rep->id);
		if (rep->url)
			r = r ?: gen_kv(g, "url", rep->url);
		if (rep->version)
			r = r ?: gen_kv(g, "version", rep->version);
		if (rep->has_segments)
			r = r ?: gen_segments(g, rep->segments, rep->n_segments);
		if (rep->has_count)
			r = r ?: gen_ku(g, "count", rep->count);
		if (rep->has_tunnels)
			r = r ?: gen_tunnels(g, rep->tunnels, rep->n_tunnels);
		if (rep->has_conns)
			r = r ?: gen_conns(g, rep->conns, rep->n_conns, rep->conns_more);
	}
	if (r < 0)
		return r;
	yajl_gen_map_close(g);
	return gen_finish(g, ret);
}

static int parse_segment(yajl_val o, struct ctl_segment_info *s, char **reterr)
{
	int r = 0;

	if (!YAJL_IS_OBJECT(o))
		return set_err(reterr, "a segment must be an object");
	r = obj_check_unique(o, "segment", reterr);
	if (r < 0)
		return r;
	r = r ?: get_str(o, "id", &s->id, reterr);
	r = r ?: get_str(o, "parent", &s->parent, reterr);
	r = r ?: get_str(o, "head", &s->head, reterr);
	r = r ?: get_str(o, "tail", &s->tail, reterr);
	r = r ?: get_str(o, "state", &s->state, reterr);
	r = r ?: get_u64(o, "conns_active", &s->conns_active, reterr);
	r = r ?: get_u64(o, "conns_total", &s->conns_total, reterr);
	r = r ?: get_u64(o, "bytes_in", &s->bytes_in, reterr);
	r = r ?: get_u64(o, "bytes_out", &s->bytes_out, reterr);
	if (r == 0 && !s->id)
		r = set_err(reterr, "a segment needs an 'id'");
	return r;
}

static int parse_conn(yajl_val o, struct ctl_conn_info *c, char **reterr)
{
	int r;

	if (!YAJL_IS_OBJECT(o))
		return set_err(reterr, "a connection must be an object");
	r = obj_check_unique(o, "connection", reterr);
	r = r ?: get_str(o, "segment", &c->segment, reterr);
	r = r ?: get_u64(o, "id", &c->id, reterr);
	r = r ?: get_str(o, "client", &c->client, reterr);
	r = r ?: get_str(o, "tail", &c->tail, reterr);
	r = r ?: get_str(o, "state", &c->state, reterr);
	r = r ?: get_u64(o, "age_ms", &c->age_ms, reterr);
	r = r ?: get_u64(o, "bytes_in", &c->bytes_in, reterr);
	r = r ?: get_u64(o, "bytes_out", &c->bytes_out, reterr);
	return r;
}

static int parse_conns(yajl_val v, struct ctl_reply *rep, char **reterr)
{
	yajl_val a = obj_get(v, "conns");
	int r;

	if (!a)
		return 0;
	if (!YAJL_IS_ARRAY(a))
		return set_err(reterr, "'conns' must be an array");
	rep->has_conns = true;
	rep->conns = calloc(a->u.array.len + 1, sizeof(*rep->conns));
	if (!rep->conns)
		return -ENOMEM;
	for (size_t i = 0; i < a->u.array.len; i++) {
		rep->n_conns = i + 1;
		r = parse_conn(a->u.array.values[i], &rep->conns[i], reterr);
		if (r < 0)
			return r;
	}
	return get_u64(v, "conns_more", &rep->conns_more, reterr);
}

static int parse_link(yajl_val o, struct ctl_link_info *l, char **reterr)
{
	int r = 0;

	if (!YAJL_IS_OBJECT(o))
		return set_err(reterr, "a link must be an object");
	r = obj_check_unique(o, "link", reterr);
	r = r ?: get_str(o, "name", &l->name, reterr);
	r = r ?: get_str(o, "address", &l->address, reterr);
	r = r ?: get_str(o, "direction", &l->direction, reterr);
	r = r ?: get_str(o, "state", &l->state, reterr);
	r = r ?: get_str(o, "key", &l->key, reterr);
	r = r ?: get_u64(o, "age", &l->age_sec, reterr);
	r = r ?: get_u64(o, "streams", &l->streams, reterr);
	r = r ?: get_u64(o, "bytes_in", &l->bytes_in, reterr);
	r = r ?: get_u64(o, "bytes_out", &l->bytes_out, reterr);
	return r;
}

int ctl_reply_parse(const char *line, size_t len, struct ctl_reply *ret, char **reterr)
{
	_cleanup_(yajl_tree_freep) yajl_val v = NULL;
	struct ctl_reply rep = { 0 };
	yajl_val ok, segs, seg;
	int r;

	r = parse_tree(line, len, "reply", &v, reterr);
	if (r < 0)
		return r;
	seg = obj_get(v, "segment");
	if (seg) {
		rep.has_segment = true;
		r = parse_segment(seg, &rep.segment, reterr);
		if (r < 0)
			goto fail;
		*ret = rep;
		return 0;
	}
	seg = obj_get(v, "link");
	if (seg) {
		rep.has_link = true;
		r = parse_link(seg, &rep.link, reterr);
		if (r < 0)
			goto fail;
		*ret = rep;
		return 0;
	}
	r = get_str(v, "progress", &rep.progress, reterr);
	if (r < 0)
		return r;
	if (rep.progress) {
		*ret = rep;
		return 0;
	}
	ok = obj_get(v, "ok");
	if (!ok || !(YAJL_IS_TRUE(ok) || YAJL_IS_FALSE(ok)))
		return set_err(reterr, "'ok' must be a boolean");
	rep.ok = YAJL_IS_TRUE(ok);
	r = get_str(v, "error", &rep.error, reterr);
	r = r ?: get_str(v, "id", &rep.id, reterr);
	r = r ?: get_str(v, "url", &rep.url, reterr);
	r = r ?: get_str(v, "version", &rep.version, reterr);
	if (r < 0)
		goto fail;
	if (obj_get(v, "count")) {
		rep.has_count = true;
		r = get_u64(v, "count", &rep.count, reterr);
		if (r < 0)
			goto fail;
	}
	r = parse_conns(v, &rep, reterr);
	if (r < 0)
		goto fail;
	segs = obj_get(v, "tunnels");
	if (segs) {
		if (!YAJL_IS_ARRAY(segs)) {
			r = set_err(reterr, "'tunnels' must be an array");
			goto fail;
		}
		rep.has_tunnels = true;
		rep.tunnels = calloc(segs->u.array.len + 1, sizeof(*rep.tunnels));
		if (!rep.tunnels) {
			r = -ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < segs->u.array.len; i++) {
			rep.n_tunnels = i + 1;
			r = parse_tunnel(segs->u.array.values[i], &rep.tunnels[i], reterr);
			if (r < 0)
				goto fail;
		}
	}
	segs = obj_get(v, "segments");
	if (segs) {
		if (!YAJL_IS_ARRAY(segs)) {
			r = set_err(reterr, "'segments' must be an array");
			goto fail;
		}
		rep.has_segments = true;
		rep.segments = calloc(segs->u.array.len + 1, sizeof(*rep.segments));
		if (!rep.segments) {
			r = -ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < segs->u.array.len; i++) {
			rep.n_segments = i + 1;
			r = parse_segment(segs->u.array.values[i], &rep.segments[i], reterr);
			if (r < 0)
				goto fail;
		}
	}
	*ret = rep;
	return 0;
fail:
	ctl_reply_done(&rep);
	return r;
}

void ctl_segment_info_done(struct ctl_segment_info *s)
{
	free(s->id);
	free(s->parent);
	free(s->head);
	free(s->tail);
	free(s->state);
	*s = (struct ctl_segment_info){ 0 };
}

void ctl_conn_info_done(struct ctl_conn_info *c)
{
	free(c->segment);
	free(c->client);
	free(c->tail);
	free(c->state);
	*c = (struct ctl_conn_info){ 0 };
}

void ctl_link_info_done(struct ctl_link_info *l)
{
	free(l->name);
	free(l->address);
	free(l->direction);
	free(l->state);
	free(l->key);
	*l = (struct ctl_link_info){ 0 };
}

void ctl_tunnel_done(struct ctl_tunnel *t)
{
	free(t->peer);
	free(t->local);
	free(t->remote);
	free(t->local_ov);
	free(t->remote_ov);
	free(t->encap);
	free(t->state);
	if (t->out_key)
		explicit_bzero(t->out_key, strlen(t->out_key));
	if (t->in_key)
		explicit_bzero(t->in_key, strlen(t->in_key));
	free(t->out_key);
	free(t->in_key);
	*t = (struct ctl_tunnel){ 0 };
}

int ctl_tunnels_format_json(const struct ctl_tunnel *t, size_t n, bool pretty, char **ret)
{
	_cleanup_(yajl_gen_freep) yajl_gen g = yajl_gen_alloc(NULL);
	int r;

	if (!g)
		return -ENOMEM;
	if (pretty)
		yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_map_open(g);
	r = gen_tunnels(g, t, n);
	if (r < 0)
		return r;
	yajl_gen_map_close(g);
	return gen_finish(g, ret);
}

void ctl_reply_done(struct ctl_reply *r)
{
	free(r->error);
	free(r->progress);
	free(r->id);
	free(r->url);
	free(r->version);
	for (size_t i = 0; r->segments && i < r->n_segments; i++)
		ctl_segment_info_done(&r->segments[i]);
	free(r->segments);
	ctl_segment_info_done(&r->segment);
	for (size_t i = 0; r->links && i < r->n_links; i++)
		ctl_link_info_done(&r->links[i]);
	free(r->links);
	ctl_link_info_done(&r->link);
	for (size_t i = 0; r->tunnels && i < r->n_tunnels; i++)
		ctl_tunnel_done(&r->tunnels[i]);
	free(r->tunnels);
	for (size_t i = 0; r->conns && i < r->n_conns; i++)
		ctl_conn_info_done(&r->conns[i]);
	free(r->conns);
	*r = (struct ctl_reply){ 0 };
}

int ctl_segments_format_json(const struct ctl_segment_info *s, size_t n, bool pretty, char **ret)
{
	_cleanup_(yajl_gen_freep) yajl_gen g = yajl_gen_alloc(NULL);
	int r;

	if (!g)
		return -ENOMEM;
	if (pretty)
		yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_map_open(g);
	r = gen_segments(g, s, n);
	if (r < 0)
		return r;
	yajl_gen_map_close(g);
	return gen_finish(g, ret);
}

int ctl_list_format_json(const struct ctl_segment_info *s, size_t n,
			 const struct ctl_link_info *links, size_t n_links, bool pretty, char **ret)
{
	_cleanup_(yajl_gen_freep) yajl_gen g = yajl_gen_alloc(NULL);
	int r;

	if (!g)
		return -ENOMEM;
	if (pretty)
		yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_map_open(g);
	r = gen_segments(g, s, n);
	if (r < 0)
		return r;
	r = gen_str(g, "links");
	if (r < 0)
		return r;
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n_links; i++) {
		r = gen_link(g, &links[i]);
		if (r < 0)
			return r;
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	return gen_finish(g, ret);
}
