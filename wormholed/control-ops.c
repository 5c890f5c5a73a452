/* SPDX-License-Identifier: MIT */
/*
 * control-ops.c - the requests of the control protocol: from a line to its handler, and the
 * handlers (create, delete, renew, show, ping, version, tunnels, hello, link/unlink)
 *
 * A line is parsed (ctl-proto.h), refused when it came over a peer link that has ended or that
 * the peer layer does not authorize, then given to the handler of its op. A handler queues its
 * reply on the client, or leaves the client busy (c->pending, c->twait) until a creation or a
 * tunnel operation ends and its callback queues the reply and takes the next request. A handler
 * returning <0 becomes an error reply naming the op; `list` lives in control-list.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chains.h"
#include "cleanup.h"
#include "config.h"
#include "control-internal.h"
#include "control-show.h"
#include "control.h"
#include "ctl-proto.h"
#include "head.h"
#include "log.h"
#include "segment.h"
#include "spec.h"
#include "tunnels.h"
#include "url.h"

static int reply_created(struct ctl_client *c, struct segment *s)
{
	_cleanup_free_ char *url = segment_head_url(s, false);

	return control_client_queue(c, &(struct ctl_reply){ .ok = true, .id = s->id, .url = url });
}

static void on_created(struct segment *s, int r, char *error, void *userdata)
{
	_cleanup_free_ struct create_req *req = userdata;
	_cleanup_free_ char *err = error;
	struct ctl_client *c = req->client;

	if (r < 0)
		log_notice("create failed: %s", err ?: strerror(-r));
	c->pending = NULL;
	if (r < 0)
		(void)control_client_reply_error(c, "%s", err ?: strerror(-r));
	else
		(void)reply_created(c, s);
	(void)control_client_process(c); /* the next request, if one is waiting */
}

/* A segment for a peer daemon's `remote` word: its head is the streams on the peer link. */
static int handle_create_peer(struct ctl_client *c, struct ctl_request *req, struct spec *spec)
{
	_cleanup_(spec_freep) struct spec *sp = spec;
	_cleanup_free_ char *err = NULL;
	struct endpoint head = ENDPOINT_EMPTY;
	struct control *ctl = c->ctl;
	struct url u = { 0 };
	struct segment *s = NULL;
	int r;

	if (!c->origin)
		return control_client_reply_error(
			c, "create: 'peer_head' only comes over a peer link");
	if (!sp->id)
		return control_client_reply_error(c, "create: a peer's segment needs an id");
	r = url_parse(req->peer_head, &u, &err);
	if (r < 0)
		return control_client_reply_error(c, "create: 'peer_head': %s",
						  err ?: strerror(-r));
	head.proto = u.proto;
	head.port = u.port;
	head.host = strdup("peer-link"); /* nothing listens: only for display */
	/* and who asked for it, shown as "tcp://peer:gw@peer-link:80" (as docker:NAME@ is) */
	if (asprintf(&head.ns_name, "peer:%s", ctl->peer_name(c->origin)) < 0)
		head.ns_name = NULL;
	url_done(&u);
	if (!head.host || !head.ns_name) {
		endpoint_done(&head);
		return -ENOMEM;
	}
	/* the peer's remote words may wait (a container start); its reply waits with them */
	{
		struct create_req *cr = calloc(1, sizeof(*cr));

		if (!cr) {
			endpoint_done(&head);
			return -ENOMEM;
		}
		r = segment_create_with_head(ctl->d, &head_peer_ops, sp->id, sp, sp->top, &head,
					     NULL, on_created, cr, &s, &err);
		endpoint_done(&head);
		if (r == 1) {
			TAKE_PTR(sp);
			cr->s = s;
			cr->client = c;
			c->pending = cr;
			if (ctl->peer_created)
				ctl->peer_created(s, c->origin, ctl->peer_userdata);
			return 0;
		}
		free(cr);
	}
	if (r < 0) {
		log_notice("create for peer %s failed: %s", ctl->peer_name(c->origin),
			   err ?: strerror(-r));
		return control_client_reply_error(c, "%s", err ?: strerror(-r));
	}
	TAKE_PTR(sp);
	if (ctl->peer_created)
		ctl->peer_created(s, c->origin, ctl->peer_userdata);
	return reply_created(c, s);
}

static int handle_create(struct ctl_client *c, struct ctl_request *req)
{
	_cleanup_(spec_freep) struct spec *sp = NULL;
	_cleanup_free_ char *err = NULL;
	struct create_req *cr;
	struct segment *s = NULL;
	int r;

	r = spec_parse(req->words, &sp, &err);
	if (r < 0)
		return control_client_reply_error(c, "invalid chain spec: %s", err ?: strerror(-r));
	r = chain_check_supported(sp->top, &err);
	if (r < 0)
		return control_client_reply_error(c, "%s", err ?: strerror(-r));
	if (req->peer_head)
		return handle_create_peer(c, req, TAKE_PTR(sp));
	cr = calloc(1, sizeof(*cr));
	if (!cr)
		return -ENOMEM;
	r = segment_create(c->ctl->d, sp->id, sp, sp->top, NULL, NULL, on_created, cr, &s, &err);
	/* over a peer link: the peer server decides whether it is leased (a daemon's request) */
	if (r >= 0 && c->origin && c->ctl->peer_created)
		c->ctl->peer_created(s, c->origin, c->ctl->peer_userdata);
	if (r == 1) {
		TAKE_PTR(sp);
		cr->s = s;
		cr->client = c;
		c->pending = cr;
		return 0;
	}
	free(cr);
	if (r < 0) {
		log_notice("create failed: %s", err ?: strerror(-r));
		return control_client_reply_error(c, "%s", err ?: strerror(-r));
	}
	TAKE_PTR(sp);
	return reply_created(c, s);
}

static int handle_delete(struct ctl_client *c, struct ctl_request *req)
{
	struct segment *s = segment_find(c->ctl->d, req->id);

	if (!s)
		return control_client_reply_error(c, "segment '%s': no such segment", req->id);
	if (s->parent)
		return control_client_reply_error(
			c, "segment '%s' is part of segment '%s'; delete that one", req->id,
			s->parent->id);
	segment_free(s);
	return control_client_queue(c, &(struct ctl_reply){ .ok = true });
}

static int handle_renew(struct ctl_client *c, struct ctl_request *req)
{
	struct segment *s = segment_find(c->ctl->d, req->id);

	if (!c->origin || !c->ctl->peer_renew)
		return control_client_reply_error(c, "renew: only over a peer link");
	if (!s)
		return control_client_reply_error(c, "segment '%s': no such segment", req->id);
	if (c->ctl->peer_renew(s, c->origin, c->ctl->peer_userdata) < 0)
		return control_client_reply_error(c, "segment '%s' has no lease", req->id);
	return control_client_queue(c, &(struct ctl_reply){ .ok = true });
}

static void on_tunnel_reply(void *userdata, const struct ctl_reply *rep, int final)
{
	struct ctl_client *c = userdata;
	bool waiting = c->twait != NULL;

	(void)control_client_queue(c, rep);
	if (!final)
		return;
	c->twait = NULL;
	if (waiting)
		(void)control_client_process(c); /* sends it, and takes the next request */
}

/* tunnel-create/-delete/-list, and the requests between daemons (wormholed/tunnels.c) */
static int handle_tunnel(struct ctl_client *c, struct ctl_request *req)
{
	struct ctl_reply rep = { 0 };
	int r;

	r = tunnels_request(req, c->origin != NULL, &rep, on_tunnel_reply, c, &c->twait);
	if (r == 0) {
		r = control_client_queue(c, &rep);
		ctl_reply_done(&rep);
	}
	return r < 0 ? r : 0;
}

static int handle_show(struct ctl_client *c, struct ctl_request *req)
{
	struct ctl_reply rep = { 0 };
	int r;

	r = control_show(c->ctl->d, req->id, &rep);
	if (r < 0)
		return r;
	r = control_client_queue(c, &rep);
	ctl_reply_done(&rep);
	return r;
}

static int handle_ping(struct ctl_client *c, struct ctl_request *req)
{
	return control_client_queue(c, &(struct ctl_reply){ .ok = true });
}

static int handle_version(struct ctl_client *c, struct ctl_request *req)
{
	char version[] = WORMHOLE_VERSION;

	return control_client_queue(c, &(struct ctl_reply){ .ok = true, .version = version });
}

static int handle_hello(struct ctl_client *c, struct ctl_request *req)
{
	_cleanup_free_ char *err = NULL;
	const struct control_peer_extras *x = c->ctl->extras;
	int r;

	if (!c->origin || !x || !x->hello)
		return control_client_reply_error(c, "hello: only over a peer link");
	r = x->hello(c->origin, req->name, req->instance, &err, c->ctl->extras_userdata);
	if (r < 0)
		return control_client_reply_error(c, "hello: %s", err ?: strerror(-r));
	return control_client_queue(c, &(struct ctl_reply){ .ok = true });
}

static int handle_link(struct ctl_client *c, struct ctl_request *req)
{
	_cleanup_free_ char *err = NULL;
	const struct control_peer_extras *x = c->ctl->extras;
	int r;

	if (!x || !x->link)
		return control_client_reply_error(
			c,
			"%s: this wormholed has no peer key; make one with "
			"`wormhole keygen` and start wormholed with -K PATH",
			ctl_op_name(req->op));
	r = x->link(req->name, req->op == CTL_OP_LINK, &err, c->ctl->extras_userdata);
	if (r < 0)
		return control_client_reply_error(c, "%s '%s': %s", ctl_op_name(req->op), req->name,
						  err ?: strerror(-r));
	return control_client_queue(c, &(struct ctl_reply){ .ok = true });
}

static const struct {
	enum ctl_op op;
	int (*handler)(struct ctl_client *c, struct ctl_request *req);
} handlers[] = {
	{ CTL_OP_CREATE, handle_create },
	{ CTL_OP_DELETE, handle_delete },
	{ CTL_OP_LIST, control_handle_list },
	{ CTL_OP_PING, handle_ping },
	{ CTL_OP_VERSION, handle_version },
	{ CTL_OP_RENEW, handle_renew },
	{ CTL_OP_TUNNEL_CREATE, handle_tunnel },
	{ CTL_OP_TUNNEL_DELETE, handle_tunnel },
	{ CTL_OP_TUNNEL_LIST, handle_tunnel },
	{ CTL_OP_TUNNEL_PREPARE, handle_tunnel },
	{ CTL_OP_TUNNEL_INSTALL, handle_tunnel },
	{ CTL_OP_TUNNEL_REKEY, handle_tunnel },
	{ CTL_OP_SHOW, handle_show },
	{ CTL_OP_HELLO, handle_hello },
	{ CTL_OP_LINK, handle_link },
	{ CTL_OP_UNLINK, handle_link },
};

int control_handle_line(struct ctl_client *c, const char *line, size_t len)
{
	_cleanup_free_ char *err = NULL;
	struct ctl_request req = { 0 };
	int r;

	r = ctl_request_parse(line, len, &req, &err);
	if (r < 0)
		return control_client_reply_error(c, "bad request: %s", err ?: strerror(-r));
	if (c->st && !c->origin) { /* its link ended: nothing vouches for it any more */
		ctl_request_done(&req);
		return control_client_reply_error(c, "the peer link of this request ended");
	}
	if (c->origin && c->ctl->extras && c->ctl->extras->authorize) {
		r = c->ctl->extras->authorize(c->origin, &req, &err, c->ctl->extras_userdata);
		if (r < 0) {
			r = control_client_reply_error(c, "%s", err ?: strerror(-r));
			ctl_request_done(&req);
			return r;
		}
	}
	r = -EOPNOTSUPP;
	for (size_t i = 0; i < ELEMENTSOF(handlers); i++)
		if (handlers[i].op == req.op) {
			log_debug("control: %s", ctl_op_name(req.op));
			r = handlers[i].handler(c, &req);
			break;
		}
	ctl_request_done(&req);
	if (r < 0)
		return control_client_reply_error(c, "%s: %s", ctl_op_name(req.op), strerror(-r));
	return 0;
}
