/* SPDX-License-Identifier: MIT */
/*
 * remote.c - `remote HOST`: the rest of the chain runs on the wormholed at HOST; `tunnel`,
 * `udptunnel` (IPsec, not run by this daemon yet)
 *
 * apply() serializes the words after `remote HOST` (spec_seg_to_words), names the remote segment
 * "<this id>.<random>", and asks HOST's daemon to create it over the peer link (a control request,
 * lib/peer/link-manager.h) with a peer-link head: no listener on HOST, each connection to this
 * segment becomes a stream on the link (tail-peer.c), which HOST's head takes (head-peer.c). The
 * remote creation is all-or-nothing on HOST (its own runner undoes a failure there), and ours
 * undoes it here: undo() and cancel() send a delete. While the segment lives, the peer is held:
 * the link is kept up (pings, reconnect with backoff), and each time it comes up again the
 * remote segment's lease is renewed (chain_remote_peer_up()); a creator that is gone longer than
 * HOST's lease loses it there.
 */
#include <arpa/inet.h>
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
#include "list.h"
#include "log.h"
#include "resolve.h"
#include "segment.h"
#include "strv.h"
#include "tail.h"
#include "url.h"

struct remote_state {
	struct segment *s;
	const struct spec_word *w; /* the `remote` word (the runner keeps the spec) */
	char *name;		   /* the host as written */
	uint16_t port;
	char *head;		     /* the peer head's URL */
	struct resolve_query *query; /* resolving @name, while pending */
	struct peer *peer;
	char *rid;
	struct tail_peer tp;
	struct peer_request *rq; /* the create, while pending */
	chain_done_fn done;
	void *userdata;
	bool held;
	struct remote_state *remotes_prev, *remotes_next;
};

/* every live remote segment of this daemon, for lease renewals */
static struct remote_state *remotes;

static void on_fire_and_forget(void *userdata, int r, const char *line, size_t len)
{
	_cleanup_free_ char *what = userdata;
	_cleanup_free_ char *err = NULL;
	struct ctl_reply rep = { 0 };

	if (r < 0) {
		log_warning_errno(r, "%s", what);
		return;
	}
	if (ctl_reply_parse(line, len, &rep, &err) >= 0 && !rep.ok)
		log_debug("%s: %s", what, rep.error ?: "refused");
	ctl_reply_done(&rep);
}

/* Send @op for @rid to the peer; the outcome is only logged. */
static void remote_send(struct peer *p, enum ctl_op op, const char *rid)
{
	_cleanup_free_ char *line = NULL;
	char id[128], *what = NULL;
	int r;

	snprintf(id, sizeof(id), "%s", rid); /* ctl_request wants a mutable string */
	r = ctl_request_format(&(struct ctl_request){ .op = op, .id = id }, &line);
	if (r < 0)
		return;
	if (asprintf(&what, "remote segment '%s' on %s: %s", rid, peer_name(p), ctl_op_name(op)) <
	    0)
		return;
	r = peer_request(p, line, on_fire_and_forget, what, NULL);
	if (r < 0) {
		log_warning_errno(r, "%s, ignoring", what);
		free(what);
	}
}

static void state_free(struct remote_state *st)
{
	if (!st)
		return;
	st->rq = peer_request_cancel(st->rq);
	st->query = resolve_cancel(st->query);
	if (st->held) {
		LIST_REMOVE(remotes, remotes, st);
		peer_hold(st->peer, false);
	}
	peer_unref(st->peer);
	free(st->rid);
	free(st->name);
	free(st->head);
	free(st->tp.path);
	free(st);
}

static int remote_tail_link(struct remote_state *st)
{
	struct segment *s = st->s;
	const char *name = peer_name(st->peer);
	const char *colon = strrchr(name, ':');

	/* the tail, for display: the peer daemon's address */
	endpoint_done(&s->tail);
	s->tail.proto = URL_PROTO_TCP;
	s->tail.host = strndup(name[0] == '[' ? name + 1 : name,
			       (size_t)(colon - name) - (name[0] == '[' ? 2 : 0));
	if (!s->tail.host)
		return -ENOMEM;
	s->tail.port = (uint16_t)strtoul(colon + 1, NULL, 10); /* checked by peer_addr_parse() */
	s->tail_ops = &tail_peer_ops;
	s->tail_data = &st->tp;
	return 0;
}

static void on_created(void *userdata, int r, const char *line, size_t len)
{
	struct remote_state *st = userdata;
	chain_done_fn done = st->done;
	void *ud = st->userdata;
	_cleanup_free_ char *err = NULL, *msg = NULL;
	struct ctl_reply rep = { 0 };

	st->rq = NULL;
	if (r >= 0) {
		r = ctl_reply_parse(line, len, &rep, &err);
		if (r >= 0 && !rep.ok) {
			r = -EREMOTEIO;
			(void)errmsg_set(&msg, "remote '%s': %s", peer_name(st->peer),
					 rep.error ?: "refused");
		}
		ctl_reply_done(&rep);
	}
	if (r >= 0)
		r = remote_tail_link(st);
	if (r < 0) {
		if (!msg)
			(void)errmsg_set(
				&msg, "remote '%s': %s%s", peer_name(st->peer), strerror(-r),
				r == -EACCES || r == -ECONNRESET
					? " (is wormholed running there, with the same key?)"
					: "");
		if (r != -EREMOTEIO)
			remote_send(st->peer, CTL_OP_DELETE, st->rid); /* it may exist there */
		state_free(st);
		done(ud, r, NULL, TAKE_PTR(msg));
		return;
	}
	LIST_PREPEND(remotes, remotes, st);
	st->held = true;
	peer_hold(st->peer, true);
	log_info("segment '%s': remote segment '%s' created on %s", st->s->id, st->rid,
		 peer_name(st->peer));
	done(ud, 0, st, NULL);
}

/* What the peer's tail defaults from: our tail as far as the words set it, else our head. */
static int peer_head_url(struct segment *s, char **ret)
{
	const struct endpoint *t = &s->tail, *h = &s->head;
	enum url_proto proto = t->proto ?: (h->proto == URL_PROTO_UNIX ? URL_PROTO_TCP : h->proto);
	uint16_t port = t->port ?: h->port;
	const char *host = t->host ?: "127.0.0.1";

	if (proto == URL_PROTO_NONE)
		proto = URL_PROTO_TCP;
	if (asprintf(ret, strchr(host, ':') ? "%s://[%s]:%u" : "%s://%s:%u", url_proto_name(proto),
		     host, (unsigned)port) < 0)
		return -ENOMEM;
	return 0;
}

/* The peer is known: name the remote segment and ask the peer to create it. */
static int remote_request_create(struct remote_state *st, char **ret_error)
{
	_cleanup_(strv_freep) char **words = NULL;
	_cleanup_free_ char *line = NULL;
	uint8_t rnd[3];
	size_t n;
	int r;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd) ||
	    asprintf(&st->rid, "%.56s.%02x%02x%02x", st->s->id, rnd[0], rnd[1], rnd[2]) < 0 ||
	    asprintf(&st->tp.path, "/data/%s", st->rid) < 0) {
		st->rid = NULL;
		return -ENOMEM;
	}
	st->tp.peer = st->peer;
	r = spec_seg_to_words(st->w->child, &words);
	n = strv_length(words);
	if (r >= 0)
		r = strv_push_dup(&words, &n, "id");
	if (r >= 0)
		r = strv_push_dup(&words, &n, st->rid);
	if (r >= 0)
		r = ctl_request_format(&(struct ctl_request){ .op = CTL_OP_CREATE,
							      .words = words,
							      .peer_head = st->head },
				       &line);
	if (r >= 0)
		r = peer_request(st->peer, line, on_created, st, &st->rq);
	if (r < 0)
		return errmsg_set_errno(ret_error, r, "word %u 'remote': %s: %s", st->w->pos,
					peer_name(st->peer), strerror(-r));
	return 0;
}

static int remote_get_peer(struct remote_state *st, const char *host, char **ret_error)
{
	_cleanup_free_ char *err = NULL;
	int r;

	r = peer_manager_get(st->s->d->peers, host, st->port, &st->peer, &err);
	if (r < 0)
		return errmsg_set_errno(ret_error, r, "word %u 'remote': %s", st->w->pos,
					err ?: strerror(-r));
	return remote_request_create(st, ret_error);
}

static void on_resolved(void *userdata, int r, const struct sockaddr *sa, socklen_t len,
			const char *error)
{
	struct remote_state *st = userdata;
	chain_done_fn done = st->done;
	void *ud = st->userdata;
	char *msg = NULL, host[INET6_ADDRSTRLEN];
	const void *addr;

	st->query = NULL;
	if (r >= 0) {
		addr = sa->sa_family == AF_INET6
			       ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
			       : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
		if (!inet_ntop(sa->sa_family, addr, host, sizeof(host)))
			r = -EAFNOSUPPORT;
	} else {
		(void)errmsg_set(&msg, "word %u 'remote': cannot resolve peer '%s': %s", st->w->pos,
				 st->name, error ?: strerror(-r));
	}
	if (r >= 0) {
		log_debug("segment '%s': peer '%s' is %s", st->s->id, st->name, host);
		r = remote_get_peer(st, host, &msg);
	}
	if (r < 0) {
		state_free(st);
		done(ud, r, NULL, msg);
	}
}

static int remote_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
			void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	_cleanup_free_ char *err = NULL;
	struct peer_addr pa = { 0 };
	union sockaddr_union sa;
	socklen_t salen;
	struct remote_state *st;
	int r;

	if (!s->d->peers)
		return ERRMSG_FAIL(
			ret_error,
			"word %u 'remote': this wormholed has no peer key; make one with "
			"`wormhole keygen` (as root), copy it to every host, and start "
			"wormholed with -K PATH",
			w->pos);
	r = peer_addr_parse(w->arg, false, &pa, &err);
	if (r < 0)
		return errmsg_set_errno(ret_error, r, "word %u 'remote': %s", w->pos,
					err ?: strerror(-r));
	st = calloc(1, sizeof(*st));
	if (!st) {
		peer_addr_done(&pa);
		return -ENOMEM;
	}
	st->s = s;
	st->w = w;
	st->done = done;
	st->userdata = userdata;
	st->port = pa.port ? pa.port : PEER_DEFAULT_PORT;
	st->name = strdup(pa.host && pa.host[0] ? pa.host : "127.0.0.1");
	peer_addr_done(&pa);
	r = st->name ? peer_head_url(s, &st->head) : -ENOMEM;
	if (r < 0) {
		state_free(st);
		return r;
	}
	if (resolve_numeric(st->name, st->port, &sa, &salen) >= 0)
		r = remote_get_peer(st, st->name, ret_error);
	else
		/* a name: resolved on a thread, never on the loop (lib/net/resolve.h) */
		r = resolve_start(s->d->event, st->name, st->port, on_resolved, st, &st->query);
	if (r < 0) {
		state_free(st);
		return r;
	}
	*ret_state = st;
	return 1;
}

static void remote_cancel(struct segment *s, void *pending)
{
	struct remote_state *st = pending;

	/* the request may have reached the peer already: delete what it may have made */
	if (st->peer && st->rid)
		remote_send(st->peer, CTL_OP_DELETE, st->rid);
	state_free(st);
}

static void remote_undo(struct segment *s, void *state)
{
	struct remote_state *st = state;

	if (s->tail_data == &st->tp) {
		s->tail_ops = &tail_socket_ops;
		s->tail_data = NULL;
	}
	tail_peer_close_dgrams(&st->tp);
	remote_send(st->peer, CTL_OP_DELETE, st->rid);
	log_info("segment '%s': deleting remote segment '%s' on %s", s->id, st->rid,
		 peer_name(st->peer));
	state_free(st);
}

void chain_remote_peer_up(struct peer *p)
{
	for (struct remote_state *st = remotes; st; st = st->remotes_next)
		if (st->peer == p)
			remote_send(p, CTL_OP_RENEW, st->rid);
}

const char *chain_remote_child(const struct segment *s, size_t *iter, const char **ret_host)
{
	while (*iter < s->n_applied) {
		const struct applied *a = &s->applied[(*iter)++];

		if (a->op == &chain_op_remote && a->state) {
			const struct remote_state *st = a->state;

			if (!st->held)
				continue;
			*ret_host = peer_name(st->peer);
			return st->rid;
		}
	}
	return NULL;
}

const struct chain_op chain_op_remote = {
	.apply = remote_apply,
	.cancel = remote_cancel,
	.undo = remote_undo,
};

const struct chain_op chain_op_tunnel = {
	.unsupported = "tunnel is not supported by this wormholed yet (IPsec tunnels are pending)",
};

const struct chain_op chain_op_udptunnel = {
	.unsupported =
		"udptunnel is not supported by this wormholed yet (IPsec tunnels are pending)",
};
