/* SPDX-License-Identifier: MIT */
/*
 * ctl-proto.c - JSON lines for the control socket, built with yajl_gen and read with yajl_tree:
 * the op names, the requests, and the tunnel object that requests and replies both carry
 *
 * Every field is type-checked before use: a request whose "words" is not an array of strings, or
 * whose "id" is not a string, is refused with a message rather than half-understood.
 * Replies are in ctl-reply.c, the yajl helpers both use in ctl-json.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "ctl-proto-internal.h"
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

int ctl_tunnel_gen(yajl_gen g, const struct ctl_tunnel *t)
{
	int r = 0;

	yajl_gen_map_open(g);
	if (t->peer)
		r = r ?: ctl_json_gen_kv(g, "peer", t->peer);
	if (t->local)
		r = r ?: ctl_json_gen_kv(g, "local", t->local);
	if (t->remote)
		r = r ?: ctl_json_gen_kv(g, "remote", t->remote);
	if (t->local_ov)
		r = r ?: ctl_json_gen_kv(g, "local_ov", t->local_ov);
	if (t->remote_ov)
		r = r ?: ctl_json_gen_kv(g, "remote_ov", t->remote_ov);
	if (t->encap)
		r = r ?: ctl_json_gen_kv(g, "encap", t->encap);
	if (t->state)
		r = r ?: ctl_json_gen_kv(g, "state", t->state);
	r = r ?: ctl_json_gen_ku(g, "reqid", t->reqid);
	r = r ?: ctl_json_gen_ku(g, "out_spi", t->out_spi);
	r = r ?: ctl_json_gen_ku(g, "in_spi", t->in_spi);
	if (t->out_key)
		r = r ?: ctl_json_gen_kv(g, "out_key", t->out_key);
	if (t->in_key)
		r = r ?: ctl_json_gen_kv(g, "in_key", t->in_key);
	r = r ?: ctl_json_gen_ku(g, "local_port", t->local_port);
	r = r ?: ctl_json_gen_ku(g, "remote_port", t->remote_port);
	r = r ?: ctl_json_gen_ku(g, "rekey_sec", t->rekey_sec);
	r = r ?: ctl_json_gen_ku(g, "out_bytes", t->out_bytes);
	r = r ?: ctl_json_gen_ku(g, "out_packets", t->out_packets);
	r = r ?: ctl_json_gen_ku(g, "in_bytes", t->in_bytes);
	r = r ?: ctl_json_gen_ku(g, "in_packets", t->in_packets);
	r = r ?: ctl_json_gen_ku(g, "rekeys", t->rekeys);
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
	_cleanup_(ctl_json_gen_freep) yajl_gen g = yajl_gen_alloc(NULL);
	int r;

	if (!g)
		return -ENOMEM;
	if (req->op >= _CTL_OP_MAX)
		return -EINVAL;
	yajl_gen_map_open(g);
	r = ctl_json_gen_kv(g, "op", ctl_op_name(req->op));
	if (r < 0)
		return r;
	if (req->op == CTL_OP_DELETE || req->op == CTL_OP_RENEW || req->op == CTL_OP_SHOW) {
		if (!req->id)
			return -EINVAL;
		r = ctl_json_gen_kv(g, "id", req->id);
		if (r < 0)
			return r;
	}
	if (req->op == CTL_OP_HELLO || req->op == CTL_OP_LINK || req->op == CTL_OP_UNLINK) {
		if (!req->name)
			return -EINVAL;
		r = ctl_json_gen_kv(g, "name", req->name);
		if (r == 0 && req->instance)
			r = ctl_json_gen_kv(g, "instance", req->instance);
		if (r < 0)
			return r;
	}
	if (req->op == CTL_OP_CREATE) {
		if (!req->words)
			return -EINVAL;
		r = ctl_json_gen_str(g, "words");
		if (r < 0)
			return r;
		yajl_gen_array_open(g);
		for (char **w = req->words; *w; w++) {
			r = ctl_json_gen_str(g, *w);
			if (r < 0)
				return r;
		}
		yajl_gen_array_close(g);
		if (req->peer_head) {
			r = ctl_json_gen_kv(g, "peer_head", req->peer_head);
			if (r < 0)
				return r;
		}
	}
	if (req->op == CTL_OP_TUNNEL_CREATE || (req->op == CTL_OP_TUNNEL_DELETE && !req->tunnel)) {
		if (!req->host)
			return -EINVAL;
		r = ctl_json_gen_kv(g, "host", req->host);
		if (r == 0 && req->op == CTL_OP_TUNNEL_CREATE)
			r = ctl_json_gen_str(g, "udp")
				    ?: (yajl_gen_bool(g, req->udp) == yajl_gen_status_ok ? 0
											 : -ENOMEM);
		if (r < 0)
			return r;
	}
	if (op_is_tunnel_peer(req->op) && !req->tunnel)
		return -EINVAL;
	if (req->op == CTL_OP_TUNNEL_REKEY) {
		r = ctl_json_gen_ku(g, "step", req->step);
		if (r < 0)
			return r;
	}
	if (req->tunnel && (op_is_tunnel_peer(req->op) || req->op == CTL_OP_TUNNEL_DELETE)) {
		r = ctl_json_gen_str(g, "tunnel");
		r = r ?: ctl_tunnel_gen(g, req->tunnel);
		if (r < 0)
			return r;
	}
	yajl_gen_map_close(g);
	return ctl_json_gen_finish(g, ret);
}

int ctl_tunnel_parse(yajl_val o, struct ctl_tunnel *t, char **reterr)
{
	int r;

	if (!YAJL_IS_OBJECT(o))
		return set_err(reterr, "'tunnel' must be an object");
	r = ctl_json_check_unique(o, "tunnel", reterr);
	r = r ?: ctl_json_get_str(o, "peer", &t->peer, reterr);
	r = r ?: ctl_json_get_str(o, "local", &t->local, reterr);
	r = r ?: ctl_json_get_str(o, "remote", &t->remote, reterr);
	r = r ?: ctl_json_get_str(o, "local_ov", &t->local_ov, reterr);
	r = r ?: ctl_json_get_str(o, "remote_ov", &t->remote_ov, reterr);
	r = r ?: ctl_json_get_str(o, "encap", &t->encap, reterr);
	r = r ?: ctl_json_get_str(o, "state", &t->state, reterr);
	r = r ?: ctl_json_get_str(o, "out_key", &t->out_key, reterr);
	r = r ?: ctl_json_get_str(o, "in_key", &t->in_key, reterr);
	r = r ?: ctl_json_get_u64(o, "reqid", &t->reqid, reterr);
	r = r ?: ctl_json_get_u64(o, "out_spi", &t->out_spi, reterr);
	r = r ?: ctl_json_get_u64(o, "in_spi", &t->in_spi, reterr);
	r = r ?: ctl_json_get_u64(o, "local_port", &t->local_port, reterr);
	r = r ?: ctl_json_get_u64(o, "remote_port", &t->remote_port, reterr);
	r = r ?: ctl_json_get_u64(o, "rekey_sec", &t->rekey_sec, reterr);
	r = r ?: ctl_json_get_u64(o, "out_bytes", &t->out_bytes, reterr);
	r = r ?: ctl_json_get_u64(o, "out_packets", &t->out_packets, reterr);
	r = r ?: ctl_json_get_u64(o, "in_bytes", &t->in_bytes, reterr);
	r = r ?: ctl_json_get_u64(o, "in_packets", &t->in_packets, reterr);
	r = r ?: ctl_json_get_u64(o, "rekeys", &t->rekeys, reterr);
	return r;
}

static int parse_request_tunnel(yajl_val v, struct ctl_request *req, char **reterr)
{
	yajl_val udp, tun;
	int r;

	if (req->op == CTL_OP_TUNNEL_CREATE || req->op == CTL_OP_TUNNEL_DELETE) {
		r = ctl_json_get_str(v, "host", &req->host, reterr);
		if (r < 0)
			return r;
	}
	if (req->op == CTL_OP_TUNNEL_CREATE) {
		udp = ctl_json_get(v, "udp");
		if (udp && !YAJL_IS_TRUE(udp) && !YAJL_IS_FALSE(udp))
			return set_err(reterr, "'udp' must be a boolean");
		req->udp = udp && YAJL_IS_TRUE(udp);
	}
	if (req->op == CTL_OP_TUNNEL_REKEY) {
		r = ctl_json_get_u64(v, "step", &req->step, reterr);
		if (r < 0)
			return r;
		if (req->step != 1 && req->step != 2)
			return set_err(reterr, "'step' must be 1 or 2");
	}
	tun = ctl_json_get(v, "tunnel");
	if (tun && (op_is_tunnel_peer(req->op) || req->op == CTL_OP_TUNNEL_DELETE)) {
		req->tunnel = calloc(1, sizeof(*req->tunnel));
		if (!req->tunnel)
			return -ENOMEM;
		r = ctl_tunnel_parse(tun, req->tunnel, reterr);
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
	_cleanup_(ctl_json_tree_freep) yajl_val v = NULL;
	struct ctl_request req = { .op = _CTL_OP_MAX };
	yajl_val op, words;
	int r;

	r = ctl_json_parse_tree(line, len, "request", &v, reterr);
	if (r < 0)
		return r;
	op = ctl_json_get(v, "op");
	if (!op || !YAJL_IS_STRING(op))
		return set_err(reterr, "'op' must be a string");
	for (unsigned i = 0; i < _CTL_OP_MAX; i++)
		if (strcmp(YAJL_GET_STRING(op) ?: "", ctl_op_names[i]) == 0)
			req.op = i;
	if (req.op == _CTL_OP_MAX)
		return set_err(reterr, "unknown op '%.64s'", YAJL_GET_STRING(op));

	if (req.op == CTL_OP_DELETE || req.op == CTL_OP_RENEW || req.op == CTL_OP_SHOW) {
		r = ctl_json_get_str(v, "id", &req.id, reterr);
		if (r < 0)
			return r;
		if (!req.id)
			return set_err(reterr, "%s needs 'id'", ctl_op_names[req.op]);
	}
	if (req.op == CTL_OP_HELLO || req.op == CTL_OP_LINK || req.op == CTL_OP_UNLINK) {
		r = ctl_json_get_str(v, "name", &req.name, reterr);
		if (r == 0)
			r = ctl_json_get_str(v, "instance", &req.instance, reterr);
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
		words = ctl_json_get(v, "words");
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
			r = ctl_json_dup_utf8(YAJL_GET_STRING(w) ?: "", "words", &req.words[i],
					      reterr);
			if (r < 0) {
				ctl_request_done(&req);
				return r;
			}
		}
		r = ctl_json_get_str(v, "peer_head", &req.peer_head, reterr);
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
