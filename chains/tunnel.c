/* SPDX-License-Identifier: MIT */
/*
 * tunnel.c - `tunnel HOST` / `udptunnel HOST`: the rest of the chain runs on HOST's wormholed,
 * and the traffic to it crosses a kernel IPsec tunnel (ESP, or ESP-in-UDP)
 *
 * apply() asks the daemon's tunnel registry (wormholed/tunnels.c, through the provider set with
 * chain_tunnel_set_provider()) for the tunnel to HOST: an existing one is reused, else one is
 * made with HOST's daemon. Then HOST's daemon is asked, over the peer link, to create the
 * remote segment with its head on HOST's overlay address (the words after the tunnel word,
 * preceded by `url PROTO://<overlay>[:PORT]`, so the user's `url :PORT` keeps the address), and
 * this segment's tail becomes that address: connections leave this host's namespace with the
 * overlay source address, match the tunnel's policy and travel as ESP. The tunnel outlives the
 * segment (as in the original; `wormhole tunnel-delete` removes it); undo() deletes the remote
 * segment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "chains.h"
#include "cleanup.h"
#include "ctl-proto.h"
#include "errmsg.h"
#include "link-manager.h"
#include "log.h"
#include "segment.h"
#include "strv.h"
#include "url.h"

static const struct chain_tunnel_provider *provider;

void chain_tunnel_set_provider(const struct chain_tunnel_provider *p)
{
	provider = p;
}

struct tunnel_state {
	struct segment *s;
	bool udp;
	unsigned pos;
	char *host;
	char **words; /* the remote segment's words, without the head url */
	char *rid;
	struct peer *peer;
	void *wait;		 /* the tunnel, while it is being made */
	struct peer_request *rq; /* the remote create, while pending */
	chain_done_fn done;
	void *userdata;
	bool created;
};

static const char *word(const struct tunnel_state *st)
{
	return st->udp ? "udptunnel" : "tunnel";
}

static void state_free(struct tunnel_state *st)
{
	if (!st)
		return;
	if (st->wait && provider)
		provider->cancel(st->wait);
	st->rq = peer_request_cancel(st->rq);
	peer_unref(st->peer);
	strv_free(st->words);
	free(st->host);
	free(st->rid);
	free(st);
}

static void on_deleted(void *userdata, int r, const char *line, size_t len)
{
	_cleanup_free_ char *rid = userdata;

	if (r < 0)
		log_warning_errno(r, "remote segment '%s': delete", rid);
}

static void send_delete(struct tunnel_state *st)
{
	_cleanup_free_ char *line = NULL;
	char *rid;

	if (!st->peer ||
	    ctl_request_format(&(struct ctl_request){ .op = CTL_OP_DELETE, .id = st->rid }, &line) <
		    0)
		return;
	rid = strdup(st->rid);
	if (rid && peer_request(st->peer, line, on_deleted, rid, NULL) < 0) {
		log_warning("remote segment '%s' on '%s': cannot send its delete, ignoring",
			    st->rid, st->host);
		free(rid);
	}
}

static void fail(struct tunnel_state *st, int r, char *msg)
{
	chain_done_fn done = st->done;
	void *ud = st->userdata;

	if (!msg)
		(void)errmsg_set(&msg, "word %u '%s': '%s': %s", st->pos, word(st), st->host,
				 strerror(-r));
	state_free(st);
	done(ud, r, NULL, msg);
}

static void on_created(void *userdata, int r, const char *line, size_t len)
{
	struct tunnel_state *st = userdata;
	struct segment *s = st->s;
	_cleanup_free_ char *err = NULL;
	char *msg = NULL;
	struct ctl_reply rep = { 0 };
	struct url u = { 0 };

	st->rq = NULL;
	if (r >= 0)
		r = ctl_reply_parse(line, len, &rep, &err);
	if (r >= 0 && !rep.ok) {
		(void)errmsg_set(&msg, "word %u '%s': '%s': %s", st->pos, word(st), st->host,
				 rep.error ?: "refused");
		ctl_reply_done(&rep);
		return fail(st, -EREMOTEIO, msg);
	}
	if (r >= 0)
		r = rep.url ? url_parse(rep.url, &u, &err) : -EBADMSG;
	ctl_reply_done(&rep);
	if (r < 0) {
		send_delete(st); /* it may exist there */
		return fail(st, r, NULL);
	}
	endpoint_done(&s->tail.ep);
	s->tail.ep.proto = u.proto;
	s->tail.ep.host = TAKE_PTR(u.host);
	s->tail.ep.port = u.port;
	url_done(&u);
	st->created = true;
	log_info("segment '%s': remote segment '%s' on '%s' listens on %s:%u, through the %s",
		 s->id, st->rid, st->host, s->tail.ep.host, (unsigned)s->tail.ep.port, word(st));
	st->done(st->userdata, 0, st, NULL);
}

/* The tunnel is up: ask the peer for the segment on its overlay address. */
static int create_remote(struct tunnel_state *st, const char *remote_ov, char **ret_error)
{
	_cleanup_(strv_freep) char **words = NULL;
	_cleanup_free_ char *line = NULL, *head = NULL, *err = NULL;
	struct segment *s = st->s;
	enum url_proto proto = s->tail.ep.proto ?: s->head.proto;
	uint16_t port = s->tail.ep.port ?: s->head.port;
	struct peer_addr pa = { 0 };
	size_t n = 0;
	int r;

	if (proto != URL_PROTO_UDP)
		proto = URL_PROTO_TCP;
	r = port ? asprintf(&head, "%s://%s:%u", url_proto_name(proto), remote_ov, (unsigned)port)
		 : asprintf(&head, "%s://%s", url_proto_name(proto), remote_ov);
	if (r < 0)
		return -ENOMEM;
	r = strv_push_dup(&words, &n, "url");
	if (r >= 0)
		r = strv_push_dup(&words, &n, head);
	for (char **w = st->words; r >= 0 && w && *w; w++)
		r = strv_push_dup(&words, &n, *w);
	if (r >= 0)
		r = strv_push_dup(&words, &n, "id");
	if (r >= 0)
		r = strv_push_dup(&words, &n, st->rid);
	if (r >= 0)
		r = ctl_request_format(&(struct ctl_request){ .op = CTL_OP_CREATE, .words = words },
				       &line);
	if (r < 0)
		return r;
	if (!st->peer) {
		r = peer_addr_parse(st->host, false, &pa, &err);
		if (r >= 0)
			r = peer_manager_get(s->d->peers,
					     pa.host && pa.host[0] ? pa.host : "127.0.0.1", pa.port,
					     &st->peer, &err);
		peer_addr_done(&pa);
		if (r < 0)
			return ERRMSG_RET(ret_error, r, "word %u '%s': %s", st->pos, word(st),
					  err ?: strerror(-r));
	}
	r = peer_request(st->peer, line, on_created, st, &st->rq);
	if (r < 0)
		return ERRMSG_RET(ret_error, r, "word %u '%s': '%s': %s", st->pos, word(st),
				  st->host, strerror(-r));
	return 0;
}

static void on_tunnel(void *userdata, int r, const char *error, const char *remote_ov)
{
	struct tunnel_state *st = userdata;
	char *msg = NULL;

	st->wait = NULL;
	if (r < 0) {
		(void)errmsg_set(&msg, "word %u '%s': %s", st->pos, word(st),
				 error ?: strerror(-r));
		return fail(st, r, msg);
	}
	r = create_remote(st, remote_ov, &msg);
	if (r < 0)
		fail(st, r, msg);
}

static int tunnel_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
			void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	_cleanup_free_ char *remote_ov = NULL, *err = NULL;
	struct tunnel_state *st;
	uint8_t rnd[3];
	int r;

	if (!provider)
		return ERRMSG_FAIL(ret_error,
				   "word %u '%s': tunnels are not available in this "
				   "wormholed (see its log)",
				   w->pos, spec_word_name(w->type));
	if (!s->d->peers)
		return ERRMSG_FAIL(ret_error,
				   "word %u '%s': this wormholed has no peer key; make one with "
				   "`wormhole keygen` (as root), copy it to every host, and start "
				   "wormholed with -K PATH",
				   w->pos, spec_word_name(w->type));
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->s = s;
	st->udp = w->type == SPEC_UDPTUNNEL;
	st->pos = w->pos;
	st->done = done;
	st->userdata = userdata;
	st->host = strdup(w->arg);
	if (!st->host || getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd) ||
	    asprintf(&st->rid, "%.56s.%02x%02x%02x", s->id, rnd[0], rnd[1], rnd[2]) < 0) {
		st->rid = NULL;
		state_free(st);
		return -ENOMEM;
	}
	r = spec_seg_to_words(w->child, &st->words);
	if (r < 0) {
		state_free(st);
		return r;
	}
	r = provider->ensure(st->host, st->udp, on_tunnel, st, &st->wait, &remote_ov, &err);
	if (r == 0)
		r = create_remote(st, remote_ov, ret_error);
	else if (r < 0)
		(void)ERRMSG_RET(ret_error, r, "word %u '%s': %s", w->pos, word(st),
				 err ?: strerror(-r));
	if (r < 0) {
		state_free(st);
		return r;
	}
	*ret_state = st;
	return 1;
}

static void tunnel_cancel(struct segment *s, void *pending)
{
	struct tunnel_state *st = pending;

	if (st->rq) /* the create may have reached the peer already */
		send_delete(st);
	state_free(st);
}

static void tunnel_undo(struct segment *s, void *state)
{
	struct tunnel_state *st = state;

	if (st->created) {
		log_info("segment '%s': deleting remote segment '%s' on '%s' (the tunnel stays)",
			 s->id, st->rid, st->host);
		send_delete(st);
	}
	state_free(st);
}

const struct chain_op chain_op_tunnel = {
	.apply = tunnel_apply,
	.cancel = tunnel_cancel,
	.undo = tunnel_undo,
};

const struct chain_op chain_op_udptunnel = {
	.apply = tunnel_apply,
	.cancel = tunnel_cancel,
	.undo = tunnel_undo,
};
