/* SPDX-License-Identifier: MIT */
/*
 * ctl-reply.c - the replies of the control socket: writing and reading them, the segment, link,
 * connection and tunnel lines they carry, and the --json output of the CLI made of the same
 *
 * A reply is one JSON object per line: ok with its error, or the fields of its op (an id and URL
 * for a create, one segment or link line per row of a streamed list and a count at its end, a
 * show's segments and connections, tunnels, a progress line during a creation). Reading one
 * type-checks every field, as for requests (ctl-json.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "ctl-proto-internal.h"
#include "ctl-proto.h"
#include "errmsg.h"

static int gen_segment(yajl_gen g, const struct ctl_segment_info *s)
{
	int r = 0;

	yajl_gen_map_open(g);
	r = r ?: ctl_json_gen_kv(g, "id", s->id);
	r = r ?: ctl_json_gen_kv(g, "parent", s->parent);
	r = r ?: ctl_json_gen_kv(g, "head", s->head);
	r = r ?: ctl_json_gen_kv(g, "tail", s->tail);
	r = r ?: ctl_json_gen_kv(g, "state", s->state);
	r = r ?: ctl_json_gen_ku(g, "conns_active", s->conns_active);
	r = r ?: ctl_json_gen_ku(g, "conns_total", s->conns_total);
	r = r ?: ctl_json_gen_ku(g, "bytes_in", s->bytes_in);
	r = r ?: ctl_json_gen_ku(g, "bytes_out", s->bytes_out);
	if (r == 0 && s->n_tails > 0) {
		r = ctl_json_gen_str(g, "tails");
		yajl_gen_array_open(g);
		for (size_t i = 0; i < s->n_tails && r == 0; i++) {
			const struct ctl_tail_info *t = &s->tails[i];

			yajl_gen_map_open(g);
			r = r ?: ctl_json_gen_kv(g, "address", t->address);
			r = r ?: ctl_json_gen_kv(g, "state", t->state);
			r = r ?: ctl_json_gen_ku(g, "conns_active", t->conns_active);
			r = r ?: ctl_json_gen_ku(g, "conns_total", t->conns_total);
			r = r ?: ctl_json_gen_ku(g, "failures", t->failures);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
	}
	yajl_gen_map_close(g);
	return r;
}

static int gen_link(yajl_gen g, const struct ctl_link_info *l)
{
	int r = 0;

	yajl_gen_map_open(g);
	r = r ?: ctl_json_gen_kv(g, "name", l->name);
	r = r ?: ctl_json_gen_kv(g, "address", l->address);
	r = r ?: ctl_json_gen_kv(g, "direction", l->direction);
	r = r ?: ctl_json_gen_kv(g, "state", l->state);
	r = r ?: ctl_json_gen_kv(g, "key", l->key);
	r = r ?: ctl_json_gen_ku(g, "age", l->age_sec);
	r = r ?: ctl_json_gen_ku(g, "streams", l->streams);
	r = r ?: ctl_json_gen_ku(g, "bytes_in", l->bytes_in);
	r = r ?: ctl_json_gen_ku(g, "bytes_out", l->bytes_out);
	yajl_gen_map_close(g);
	return r;
}

static int gen_segments(yajl_gen g, const struct ctl_segment_info *s, size_t n)
{
	int r;

	r = ctl_json_gen_str(g, "segments");
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

	r = ctl_json_gen_str(g, "conns");
	if (r < 0)
		return r;
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n && r == 0; i++) {
		yajl_gen_map_open(g);
		r = r ?: ctl_json_gen_kv(g, "segment", c[i].segment);
		r = r ?: ctl_json_gen_ku(g, "id", c[i].id);
		r = r ?: ctl_json_gen_kv(g, "client", c[i].client);
		r = r ?: ctl_json_gen_kv(g, "tail", c[i].tail);
		r = r ?: ctl_json_gen_kv(g, "state", c[i].state);
		r = r ?: ctl_json_gen_ku(g, "age_ms", c[i].age_ms);
		r = r ?: ctl_json_gen_ku(g, "bytes_in", c[i].bytes_in);
		r = r ?: ctl_json_gen_ku(g, "bytes_out", c[i].bytes_out);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	return r ?: ctl_json_gen_ku(g, "conns_more", more);
}

static int gen_tunnels(yajl_gen g, const struct ctl_tunnel *t, size_t n)
{
	int r;

	r = ctl_json_gen_str(g, "tunnels");
	if (r < 0)
		return r;
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n; i++) {
		r = ctl_tunnel_gen(g, &t[i]);
		if (r < 0)
			return r;
	}
	yajl_gen_array_close(g);
	return 0;
}

int ctl_reply_format(const struct ctl_reply *rep, char **ret)
{
	_cleanup_(ctl_json_gen_freep) yajl_gen g = yajl_gen_alloc(NULL);
	int r = 0;

	if (!g)
		return -ENOMEM;
	yajl_gen_map_open(g);
	if (rep->has_segment) {
		r = ctl_json_gen_str(g, "segment");
		r = r ?: gen_segment(g, &rep->segment);
	} else if (rep->has_link) {
		r = ctl_json_gen_str(g, "link");
		r = r ?: gen_link(g, &rep->link);
	} else if (rep->progress) {
		r = ctl_json_gen_kv(g, "progress", rep->progress);
	} else {
		r = ctl_json_gen_str(g, "ok");
		if (r == 0 && yajl_gen_bool(g, rep->ok) != yajl_gen_status_ok)
			r = -ENOMEM;
		if (rep->error)
			r = r ?: ctl_json_gen_kv(g, "error", rep->error);
		if (rep->id)
			r = r ?: ctl_json_gen_kv(g, "id", rep->id);
		if (rep->url)
			r = r ?: ctl_json_gen_kv(g, "url", rep->url);
		if (rep->version)
			r = r ?: ctl_json_gen_kv(g, "version", rep->version);
		if (rep->has_segments)
			r = r ?: gen_segments(g, rep->segments, rep->n_segments);
		if (rep->has_count)
			r = r ?: ctl_json_gen_ku(g, "count", rep->count);
		if (rep->has_tunnels)
			r = r ?: gen_tunnels(g, rep->tunnels, rep->n_tunnels);
		if (rep->has_conns)
			r = r ?: gen_conns(g, rep->conns, rep->n_conns, rep->conns_more);
	}
	if (r < 0)
		return r;
	yajl_gen_map_close(g);
	return ctl_json_gen_finish(g, ret);
}

static int parse_array(yajl_val v, const char *key, size_t size,
		       int (*fn)(yajl_val o, void *item, char **reterr), bool *has, void *items,
		       size_t *n, char **reterr);

static int parse_tail_item(yajl_val o, void *item, char **reterr)
{
	struct ctl_tail_info *t = item;
	int r;

	if (!YAJL_IS_OBJECT(o))
		return set_err(reterr, "a tail must be an object");
	r = ctl_json_check_unique(o, "tail", reterr);
	r = r ?: ctl_json_get_str(o, "address", &t->address, reterr);
	r = r ?: ctl_json_get_str(o, "state", &t->state, reterr);
	r = r ?: ctl_json_get_u64(o, "conns_active", &t->conns_active, reterr);
	r = r ?: ctl_json_get_u64(o, "conns_total", &t->conns_total, reterr);
	r = r ?: ctl_json_get_u64(o, "failures", &t->failures, reterr);
	return r;
}

static int parse_segment(yajl_val o, struct ctl_segment_info *s, char **reterr)
{
	bool has_tails = false;
	int r = 0;

	if (!YAJL_IS_OBJECT(o))
		return set_err(reterr, "a segment must be an object");
	r = ctl_json_check_unique(o, "segment", reterr);
	if (r < 0)
		return r;
	r = r ?: ctl_json_get_str(o, "id", &s->id, reterr);
	r = r ?: ctl_json_get_str(o, "parent", &s->parent, reterr);
	r = r ?: ctl_json_get_str(o, "head", &s->head, reterr);
	r = r ?: ctl_json_get_str(o, "tail", &s->tail, reterr);
	r = r ?: ctl_json_get_str(o, "state", &s->state, reterr);
	r = r ?: ctl_json_get_u64(o, "conns_active", &s->conns_active, reterr);
	r = r ?: ctl_json_get_u64(o, "conns_total", &s->conns_total, reterr);
	r = r ?: ctl_json_get_u64(o, "bytes_in", &s->bytes_in, reterr);
	r = r ?: ctl_json_get_u64(o, "bytes_out", &s->bytes_out, reterr);
	r = r
		    ?: parse_array(o, "tails", sizeof(*s->tails), parse_tail_item, &has_tails,
				   &s->tails, &s->n_tails, reterr);
	if (r == 0 && !s->id)
		r = set_err(reterr, "a segment needs an 'id'");
	return r;
}

static int parse_conn(yajl_val o, struct ctl_conn_info *c, char **reterr)
{
	int r;

	if (!YAJL_IS_OBJECT(o))
		return set_err(reterr, "a connection must be an object");
	r = ctl_json_check_unique(o, "connection", reterr);
	r = r ?: ctl_json_get_str(o, "segment", &c->segment, reterr);
	r = r ?: ctl_json_get_u64(o, "id", &c->id, reterr);
	r = r ?: ctl_json_get_str(o, "client", &c->client, reterr);
	r = r ?: ctl_json_get_str(o, "tail", &c->tail, reterr);
	r = r ?: ctl_json_get_str(o, "state", &c->state, reterr);
	r = r ?: ctl_json_get_u64(o, "age_ms", &c->age_ms, reterr);
	r = r ?: ctl_json_get_u64(o, "bytes_in", &c->bytes_in, reterr);
	r = r ?: ctl_json_get_u64(o, "bytes_out", &c->bytes_out, reterr);
	return r;
}

/*
 * One array of objects in a reply: @key absent is fine (*@has stays false); present, it must be
 * an array, and each element is parsed by @fn into a calloc'ed array of @size-byte items (one
 * spare, zeroed). *@n counts the items handed to @fn, so a failure halfway frees what was parsed.
 */
static int parse_array(yajl_val v, const char *key, size_t size,
		       int (*fn)(yajl_val o, void *item, char **reterr), bool *has, void *items,
		       size_t *n, char **reterr)
{
	yajl_val a = ctl_json_get(v, key);
	char *arr;
	int r;

	if (!a)
		return 0;
	if (!YAJL_IS_ARRAY(a))
		return set_err(reterr, "'%s' must be an array", key);
	*has = true;
	arr = calloc(a->u.array.len + 1, size);
	if (!arr)
		return -ENOMEM;
	*(void **)items = arr;
	for (size_t i = 0; i < a->u.array.len; i++) {
		*n = i + 1;
		r = fn(a->u.array.values[i], arr + i * size, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_segment_item(yajl_val o, void *item, char **reterr)
{
	return parse_segment(o, item, reterr);
}

static int parse_conn_item(yajl_val o, void *item, char **reterr)
{
	return parse_conn(o, item, reterr);
}

static int parse_tunnel_item(yajl_val o, void *item, char **reterr)
{
	return ctl_tunnel_parse(o, item, reterr);
}

static int parse_link(yajl_val o, struct ctl_link_info *l, char **reterr)
{
	int r = 0;

	if (!YAJL_IS_OBJECT(o))
		return set_err(reterr, "a link must be an object");
	r = ctl_json_check_unique(o, "link", reterr);
	r = r ?: ctl_json_get_str(o, "name", &l->name, reterr);
	r = r ?: ctl_json_get_str(o, "address", &l->address, reterr);
	r = r ?: ctl_json_get_str(o, "direction", &l->direction, reterr);
	r = r ?: ctl_json_get_str(o, "state", &l->state, reterr);
	r = r ?: ctl_json_get_str(o, "key", &l->key, reterr);
	r = r ?: ctl_json_get_u64(o, "age", &l->age_sec, reterr);
	r = r ?: ctl_json_get_u64(o, "streams", &l->streams, reterr);
	r = r ?: ctl_json_get_u64(o, "bytes_in", &l->bytes_in, reterr);
	r = r ?: ctl_json_get_u64(o, "bytes_out", &l->bytes_out, reterr);
	return r;
}

int ctl_reply_parse(const char *line, size_t len, struct ctl_reply *ret, char **reterr)
{
	_cleanup_(ctl_json_tree_freep) yajl_val v = NULL;
	struct ctl_reply rep = { 0 };
	yajl_val ok, seg;
	int r;

	r = ctl_json_parse_tree(line, len, "reply", &v, reterr);
	if (r < 0)
		return r;
	seg = ctl_json_get(v, "segment");
	if (seg) {
		rep.has_segment = true;
		r = parse_segment(seg, &rep.segment, reterr);
		if (r < 0)
			goto fail;
		*ret = rep;
		return 0;
	}
	seg = ctl_json_get(v, "link");
	if (seg) {
		rep.has_link = true;
		r = parse_link(seg, &rep.link, reterr);
		if (r < 0)
			goto fail;
		*ret = rep;
		return 0;
	}
	r = ctl_json_get_str(v, "progress", &rep.progress, reterr);
	if (r < 0)
		return r;
	if (rep.progress) {
		*ret = rep;
		return 0;
	}
	ok = ctl_json_get(v, "ok");
	if (!ok || !(YAJL_IS_TRUE(ok) || YAJL_IS_FALSE(ok)))
		return set_err(reterr, "'ok' must be a boolean");
	rep.ok = YAJL_IS_TRUE(ok);
	r = ctl_json_get_str(v, "error", &rep.error, reterr);
	r = r ?: ctl_json_get_str(v, "id", &rep.id, reterr);
	r = r ?: ctl_json_get_str(v, "url", &rep.url, reterr);
	r = r ?: ctl_json_get_str(v, "version", &rep.version, reterr);
	if (r < 0)
		goto fail;
	if (ctl_json_get(v, "count")) {
		rep.has_count = true;
		r = ctl_json_get_u64(v, "count", &rep.count, reterr);
		if (r < 0)
			goto fail;
	}
	r = parse_array(v, "conns", sizeof(*rep.conns), parse_conn_item, &rep.has_conns, &rep.conns,
			&rep.n_conns, reterr);
	r = r ?: ctl_json_get_u64(v, "conns_more", &rep.conns_more, reterr);
	r = r
		    ?: parse_array(v, "tunnels", sizeof(*rep.tunnels), parse_tunnel_item,
				   &rep.has_tunnels, &rep.tunnels, &rep.n_tunnels, reterr);
	r = r
		    ?: parse_array(v, "segments", sizeof(*rep.segments), parse_segment_item,
				   &rep.has_segments, &rep.segments, &rep.n_segments, reterr);
	if (r < 0)
		goto fail;
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
	for (size_t i = 0; s->tails && i < s->n_tails; i++) {
		free(s->tails[i].address);
		free(s->tails[i].state);
	}
	free(s->tails);
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

/* A generator with the top-level map open, indented if @pretty. Return: NULL on ENOMEM */
static yajl_gen gen_top(bool pretty)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		return NULL;
	if (pretty)
		yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_map_open(g);
	return g;
}

int ctl_tunnels_format_json(const struct ctl_tunnel *t, size_t n, bool pretty, char **ret)
{
	_cleanup_(ctl_json_gen_freep) yajl_gen g = gen_top(pretty);
	int r;

	if (!g)
		return -ENOMEM;
	r = gen_tunnels(g, t, n);
	if (r < 0)
		return r;
	yajl_gen_map_close(g);
	return ctl_json_gen_finish(g, ret);
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

/* {"segments":[...]} and, when @links is not NULL, "links":[...] */
static int format_list(const struct ctl_segment_info *s, size_t n,
		       const struct ctl_link_info *links, size_t n_links, bool pretty, char **ret)
{
	_cleanup_(ctl_json_gen_freep) yajl_gen g = gen_top(pretty);
	int r;

	if (!g)
		return -ENOMEM;
	r = gen_segments(g, s, n);
	if (r < 0)
		return r;
	if (links) {
		r = ctl_json_gen_str(g, "links");
		if (r < 0)
			return r;
		yajl_gen_array_open(g);
		for (size_t i = 0; i < n_links; i++) {
			r = gen_link(g, &links[i]);
			if (r < 0)
				return r;
		}
		yajl_gen_array_close(g);
	}
	yajl_gen_map_close(g);
	return ctl_json_gen_finish(g, ret);
}

int ctl_segments_format_json(const struct ctl_segment_info *s, size_t n, bool pretty, char **ret)
{
	return format_list(s, n, NULL, 0, pretty, ret);
}

int ctl_list_format_json(const struct ctl_segment_info *s, size_t n,
			 const struct ctl_link_info *links, size_t n_links, bool pretty, char **ret)
{
	static const struct ctl_link_info none;

	return format_list(s, n, links ?: &none, n_links, pretty, ret);
}
