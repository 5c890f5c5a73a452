/* SPDX-License-Identifier: MIT */
/*
 * remote.c - `remote HOST`: the rest of the chain runs on the wormholed at HOST
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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "balance.h"
#include "chains.h"
#include "cleanup.h"
#include "ctl-proto.h"
#include "errmsg.h"
#include "link-manager.h"
#include "list.h"
#include "log.h"
#include "resolver.h"
#include "segment.h"
#include "stream.h"
#include "strv.h"
#include "tail.h"
#include "time-util.h"
#include "url.h"

struct remote_state;

/* One daemon that runs the remote part (`remote HOST1,HOST2`: several providers). */
struct provider {
	struct remote_state *st;
	struct peer *peer;
	struct peer_request *rq; /* its create (or re-create), while pending */
	bool created, held;
	uint64_t total, fails;
	uint64_t retry_at; /* skipped until then after a failed open */
	int error;
	char *msg;
	/* a host name being looked up off the loop (lib/net/resolver.h); its create follows */
	struct resolve *res;
	char *host;
	uint16_t port;
	bool by_name; /* no port given: it could have been a linked daemon's name */
	/* a restore whose peer did not answer: the segment is up, and the create goes out when the
	 * peer's link comes up (chain_remote_peer_up()) */
	bool waiting;
};

struct remote_state {
	struct segment *s;
	char *rid;
	char *create_line; /* kept: a provider that lost the segment gets it again */
	struct provider *prov;
	size_t n_prov;
	unsigned pending; /* creates in flight */
	unsigned next;	  /* round-robin position */
	struct tail_peer tp;
	chain_done_fn done;
	void *userdata;
	unsigned pos;	/* the `remote` word's, for messages */
	bool restoring; /* applied by a restore (segment_adopting()): an absent peer is waited for */
	bool held;
	struct remote_state *remotes_prev, *remotes_next;
};

#define PROVIDER_RETRY_USEC SEGMENT_TAIL_RETRY_USEC /* 2 s, as a segment's tails */

/* every live remote segment of this daemon, for lease renewals */
static struct remote_state *remotes;

static void on_fire_and_forget(void *userdata, int r, const char *error)
{
	_cleanup_free_ char *what = userdata;

	if (r == -EREMOTEIO)
		log_debug("%s: %s", what, error);
	else if (r < 0)
		log_warning_errno(r, "%s", what);
}

void chain_remote_send(struct peer *p, enum ctl_op op, const char *rid)
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
	r = peer_ctl_request(p, line, on_fire_and_forget, what, NULL);
	if (r < 0) {
		log_warning_errno(r, "%s, ignoring", what);
		free(what);
	}
}

static void state_free(struct remote_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_prov; i++) {
		struct provider *pv = &st->prov[i];

		pv->rq = peer_request_cancel(pv->rq);
		pv->res = resolve_cancel(pv->res);
		if (pv->held)
			peer_hold(pv->peer, false);
		peer_unref(pv->peer);
		free(pv->msg);
		free(pv->host);
	}
	if (st->held)
		LIST_REMOVE(remotes, remotes, st);
	free(st->prov);
	free(st->rid);
	free(st->create_line);
	free(st->tp.path);
	free(st);
}

/* ---- the provider pool: a tail that picks one provider per connection ---------------------- */

struct pool_open {
	struct stream *st;
	sd_event_source *src;
	tail_opened_fn done;
	void *userdata;
};

static void pool_cancel(void *handle)
{
	struct pool_open *o = handle;

	stream_free(o->st);
	sd_event_source_disable_unref(o->src);
	free(o);
}

static int on_pool_deliver(sd_event_source *src, void *userdata)
{
	struct pool_open *o = userdata;
	tail_opened_fn done = o->done;
	void *ud = o->userdata;
	struct stream *st = o->st;

	o->st = NULL;
	pool_cancel(o);
	done(ud, 0, RELAY_END_STREAM(st));
	return 0;
}

static int pool_complete(struct segment *s, struct segment_tail *t, char **ret_error)
{
	return 0;
}

static struct balance_cand provider_cand(size_t k, void *userdata)
{
	const struct remote_state *st = userdata;
	const struct provider *pv = &st->prov[k];

	return (struct balance_cand){ .usable = pv->created,
				      .down = !peer_link_up(pv->peer),
				      .retry_usec = pv->retry_at,
				      .load = peer_streams(pv->peer) };
}

/*
 * The engine's selection (balance.h), as for a segment's several tails: the provider with the
 * fewest streams on its link (least-loaded, the default) or the next in turn (round-robin); a
 * provider whose link is down is skipped at once, one whose open failed for
 * PROVIDER_RETRY_USEC, and the connection goes on to the next, so it fails only when no
 * provider can take it.
 */
static int pool_open_tail(struct segment *s, const struct segment_tail *t, tail_opened_fn done,
			  void *userdata, void **ret_handle)
{
	struct remote_state *st = t->data;
	uint64_t now = now_usec(), tried = 0;
	struct pool_open *o;
	int r = -EHOSTUNREACH, k;

	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->done = done;
	o->userdata = userdata;
	while (!o->st && (k = balance_pick(s->balance, st->n_prov, &st->next, tried, now,
					   provider_cand, st)) >= 0) {
		struct provider *pv = &st->prov[k];

		tried |= 1ULL << k;
		r = tail_peer_open_stream(s, pv->peer, st->tp.path, &o->st);
		if (r < 0) {
			pv->fails++;
			pv->retry_at = now + PROVIDER_RETRY_USEC;
			log_debug("segment '%s': provider %s skipped: %s", s->id,
				  peer_name(pv->peer), strerror(-r));
			continue;
		}
		pv->total++;
		pv->retry_at = 0;
	}
	if (!o->st) {
		pool_cancel(o);
		return r;
	}
	r = sd_event_add_defer(s->d->event, &o->src, on_pool_deliver, o);
	if (r < 0) {
		pool_cancel(o);
		return r;
	}
	*ret_handle = o;
	return 0;
}

static const struct tail_ops tail_pool_ops = {
	.kind = "peer-pool",
	.complete = pool_complete,
	.open = pool_open_tail,
	.cancel = pool_cancel,
	.open_dgram = NULL,
};

static int remote_tail_link(struct remote_state *st)
{
	struct segment *s = st->s;
	const char *name = peer_name(st->prov[0].peer);
	const char *colon = strrchr(name, ':');

	st->tp.peer = st->prov[0].peer; /* resolved by now, if it was a host name */
	/* the tail, for display: the peer daemon's address (or its name, if it dialed us) */
	endpoint_done(&s->tail.ep);
	s->tail.ep.proto = URL_PROTO_TCP;
	if (st->n_prov > 1 || !colon) {
		s->tail.ep.host = strdup(st->n_prov > 1 ? "providers" : name);
		if (!s->tail.ep.host)
			return -ENOMEM;
	} else {
		s->tail.ep.host = strndup(name[0] == '[' ? name + 1 : name,
					  (size_t)(colon - name) - (name[0] == '[' ? 2 : 0));
		if (!s->tail.ep.host)
			return -ENOMEM;
		s->tail.ep.port =
			(uint16_t)strtoul(colon + 1, NULL, 10); /* checked by peer_addr_parse() */
	}
	if (st->n_prov > 1) {
		s->tail.ops = &tail_pool_ops;
		s->tail.data = st;
	} else {
		s->tail.ops = &tail_peer_ops;
		s->tail.data = &st->tp;
	}
	return 0;
}

/* @pv's create was answered (@r), or it never went out (its name did not resolve): once every
 * provider answered, the segment is linked, or all of it undone */
static void provider_done(struct provider *pv, int r)
{
	struct remote_state *st = pv->st;
	chain_done_fn done = st->done;
	void *ud = st->userdata;
	_cleanup_free_ char *msg = NULL;
	struct provider *failed = NULL;

	pv->error = r < 0 ? r : 0;
	pv->created = r >= 0 && !pv->waiting;
	if (--st->pending > 0)
		return; /* the others still answer */
	for (size_t i = 0; i < st->n_prov && !failed; i++)
		if (st->prov[i].error < 0)
			failed = &st->prov[i];
	r = failed ? failed->error : remote_tail_link(st);
	if (r < 0) {
		if (failed && failed->msg)
			msg = TAKE_PTR(failed->msg);
		else
			(void)errmsg_set(
				&msg, "remote '%s': %s%s",
				peer_name(failed ? failed->peer : st->prov[0].peer), strerror(-r),
				r == -EACCES || r == -ECONNRESET
					? " (is wormholed running there, with the same key?)"
					: "");
		/* all or nothing: what the others made goes, and what the failed one may have */
		for (size_t i = 0; i < st->n_prov; i++)
			if (st->prov[i].peer &&
			    (st->prov[i].created || st->prov[i].error != -EREMOTEIO))
				chain_remote_send(st->prov[i].peer, CTL_OP_DELETE, st->rid);
		state_free(st);
		done(ud, r, NULL, TAKE_PTR(msg));
		return;
	}
	LIST_PREPEND(remotes, remotes, st);
	st->held = true;
	for (size_t i = 0; i < st->n_prov; i++) {
		st->prov[i].held = true;
		peer_hold(st->prov[i].peer, true);
		if (st->prov[i].waiting)
			log_warning("segment '%s': restored; %s does not answer now, its part "
				    "('%s') is created when its link comes up",
				    st->s->id, peer_name(st->prov[i].peer), st->rid);
		else
			log_info("segment '%s': remote segment '%s' created on %s", st->s->id,
				 st->rid, peer_name(st->prov[i].peer));
	}
	done(ud, 0, st, NULL);
}

static void on_created(void *userdata, int r, const char *error)
{
	struct provider *pv = userdata;

	pv->rq = NULL;
	if (r == -EREMOTEIO)
		(void)errmsg_set(&pv->msg, "remote '%s': %s", peer_name(pv->peer), error);
	else if (r < 0 && pv->st->restoring) {
		/* the peer is down or not linked yet: the restored segment waits for it */
		pv->waiting = true;
		r = 0;
	}
	provider_done(pv, r);
}

/* A provider's host name resolved (or not): it gets its peer, and its create goes out. */
static void on_resolved(void *userdata, int r, const struct sockaddr *sa, socklen_t salen,
			const char *error)
{
	struct provider *pv = userdata;
	struct remote_state *st = pv->st;

	pv->res = NULL;
	if (r < 0 && st->restoring && pv->by_name &&
	    (pv->peer = peer_manager_wait_named(st->s->d->peers, pv->host))) {
		/* a restore: no host of that name, so a daemon behind NAT that has not dialed in
		 * since our restart; its create goes out when it does */
		pv->waiting = true;
		provider_done(pv, 0);
		return;
	}
	if (r < 0) {
		(void)errmsg_set(&pv->msg, "word %u 'remote': cannot resolve peer '%s': %s%s",
				 st->pos, pv->host, error ?: strerror(-r),
				 pv->by_name ? " (and no daemon of that name has a link here)"
					     : "");
		provider_done(pv, r);
		return;
	}
	r = peer_manager_get_resolved(st->s->d->peers, pv->host, pv->port, sa, salen, &pv->peer);
	for (size_t i = 0; r >= 0 && i < st->n_prov; i++)
		if (&st->prov[i] != pv && st->prov[i].peer == pv->peer) {
			(void)errmsg_set(&pv->msg, "word %u 'remote': '%s' is named twice", st->pos,
					 peer_name(pv->peer));
			r = -EINVAL;
		}
	if (r >= 0)
		r = peer_ctl_request(pv->peer, st->create_line, on_created, pv, &pv->rq);
	if (r < 0) {
		if (!pv->msg)
			(void)errmsg_set(&pv->msg, "remote '%s': %s", pv->host, strerror(-r));
		provider_done(pv, r);
	}
}

/* What the peer's tail defaults from: our tail as far as the words set it, else our head. */
static int peer_head_url(struct segment *s, char **ret)
{
	const struct endpoint *t = &s->tail.ep, *h = &s->head;
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

/* One provider of @st from HOST[:PORT] (without a port, a daemon linked here by that name). A
 * host name that is not known yet is looked up off the loop; its create goes out then. */
static int provider_add(struct remote_state *st, const char *arg, const struct spec_word *w,
			char **ret_error)
{
	_cleanup_free_ char *err = NULL;
	struct peer_addr pa = { 0 };
	struct provider *pv;
	int r;

	pv = &st->prov[st->n_prov];
	*pv = (struct provider){ .st = st };
	r = peer_manager_get_arg(st->s->d->peers, arg, false, &pv->peer, &err);
	if (r == -EADDRNOTAVAIL && peer_addr_parse(arg, false, &pa, NULL) >= 0) {
		pv->by_name = !strchr(arg, ':');
		pv->port = pv->by_name ? PEER_DEFAULT_PORT : pa.port;
		pv->host = strdup(pa.host && pa.host[0] ? pa.host : "127.0.0.1");
		peer_addr_done(&pa);
		r = pv->host ? resolve_start(st->s->d->event, pv->host, pv->port, on_resolved, pv,
					     &pv->res)
			     : -ENOMEM;
		if (r < 0) {
			free(pv->host);
			return ERRMSG_RET(ret_error, r, "word %u 'remote': cannot look up '%s': %s",
					  w->pos, arg, strerror(-r));
		}
		st->n_prov++;
		return 0;
	}
	if (r < 0)
		return ERRMSG_RET(ret_error, r, "word %u 'remote': %s", w->pos,
				  err ?: strerror(-r));
	for (size_t i = 0; i < st->n_prov; i++)
		if (st->prov[i].peer == pv->peer) {
			peer_unref(pv->peer);
			return ERRMSG_RET(ret_error, -EINVAL,
					  "word %u 'remote': '%s' is named twice", w->pos, arg);
		}
	st->n_prov++;
	return 0;
}

static int remote_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
			void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	_cleanup_(strv_freep) char **words = NULL;
	_cleanup_free_ char *head = NULL, *hosts = NULL;
	struct remote_state *st;
	size_t n, count = 1;
	uint8_t rnd[3];
	char *save = NULL;
	int r;

	if (!s->d->peers)
		return ERRMSG_FAIL(
			ret_error,
			"word %u 'remote': this wormholed has no peer key; make one with "
			"`wormhole keygen` (as root), copy it to every host, and start "
			"wormholed with -K PATH",
			w->pos);
	r = peer_head_url(s, &head);
	if (r < 0)
		return r;
	for (const char *c = w->arg; *c; c++)
		count += *c == ',';
	if (count > 64)
		return ERRMSG_FAIL(ret_error, "word %u 'remote': at most 64 providers", w->pos);
	st = calloc(1, sizeof(*st));
	hosts = strdup(w->arg);
	if (!st || !hosts || !(st->prov = calloc(count, sizeof(*st->prov)))) {
		free(st);
		return -ENOMEM;
	}
	st->s = s;
	st->done = done;
	st->userdata = userdata;
	st->pos = w->pos;
	st->restoring = segment_adopting(s);
	for (char *h = strtok_r(hosts, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
		r = provider_add(st, h, w, ret_error);
		if (r < 0) {
			state_free(st);
			return r;
		}
	}
	if (st->n_prov == 0) {
		state_free(st);
		return ERRMSG_FAIL(ret_error, "word %u 'remote': no host", w->pos);
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd) ||
	    asprintf(&st->rid, "%.56s.%02x%02x%02x", s->id, rnd[0], rnd[1], rnd[2]) < 0 ||
	    asprintf(&st->tp.path, "/data/%s", st->rid) < 0) {
		st->rid = NULL;
		state_free(st);
		return -ENOMEM;
	}
	r = spec_seg_to_words(w->child, &words);
	n = strv_length(words);
	if (r >= 0)
		r = strv_push_dup(&words, &n, "id");
	if (r >= 0)
		r = strv_push_dup(&words, &n, st->rid);
	if (r >= 0)
		r = ctl_request_format(&(struct ctl_request){ .op = CTL_OP_CREATE,
							      .words = words,
							      .peer_head = head },
				       &st->create_line);
	for (size_t i = 0; r >= 0 && i < st->n_prov; i++) {
		if (st->prov[i].res) { /* its create goes out once the name resolved */
			st->pending++;
			continue;
		}
		r = peer_ctl_request(st->prov[i].peer, st->create_line, on_created, &st->prov[i],
				     &st->prov[i].rq);
		if (r >= 0)
			st->pending++;
		else {
			char name[300];

			snprintf(name, sizeof(name), "%s", peer_name(st->prov[i].peer));
			for (size_t j = 0; j < i; j++)
				if (st->prov[j].peer)
					chain_remote_send(st->prov[j].peer, CTL_OP_DELETE, st->rid);
			state_free(st);
			return ERRMSG_RET(ret_error, r, "word %u 'remote': %s: %s", w->pos, name,
					  strerror(-r));
		}
	}
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

	/* the request may have reached the peers already: delete what they may have made */
	for (size_t i = 0; i < st->n_prov; i++)
		if (st->prov[i].peer)
			chain_remote_send(st->prov[i].peer, CTL_OP_DELETE, st->rid);
	state_free(st);
}

static void remote_undo(struct segment *s, void *state)
{
	struct remote_state *st = state;

	if (s->tail.data == &st->tp || s->tail.data == st) {
		s->tail.ops = &tail_socket_ops;
		s->tail.data = NULL;
	}
	tail_peer_close_dgrams(&st->tp);
	for (size_t i = 0; i < st->n_prov; i++) {
		chain_remote_send(st->prov[i].peer, CTL_OP_DELETE, st->rid);
		log_info("segment '%s': deleting remote segment '%s' on %s", s->id, st->rid,
			 peer_name(st->prov[i].peer));
	}
	state_free(st);
}

static void on_fire_and_forget_provider(void *userdata, int r, const char *error)
{
	struct provider *pv = userdata;

	pv->rq = NULL;
	if (r < 0)
		log_warning("segment '%s': creating '%s' again on %s: %s", pv->st->s->id,
			    pv->st->rid, peer_name(pv->peer), error ?: strerror(-r));
}

/* A renew came back: a provider that lost the segment (its daemon restarted) gets it again. */
static void on_renewed(void *userdata, int r, const char *error)
{
	struct provider *pv = userdata;

	pv->rq = NULL;
	/* the peer restarted (a peer's part is not in its state file), or our lease there ran
	 * out while we were away: our segment is still here, so its part is made again */
	if (r == -EREMOTEIO && strstr(error, "no such segment")) {
		log_notice("segment '%s': %s lost remote segment '%s', creating it again",
			   pv->st->s->id, peer_name(pv->peer), pv->st->rid);
		if (peer_ctl_request(pv->peer, pv->st->create_line, on_fire_and_forget_provider, pv,
				     &pv->rq) < 0)
			pv->rq = NULL;
	}
}

/* The create of a restored segment's part, sent when the peer's link came up */
static void on_waited_create(void *userdata, int r, const char *error)
{
	struct provider *pv = userdata;
	struct remote_state *st = pv->st;

	pv->rq = NULL;
	if (r < 0) {
		log_warning("segment '%s': creating its part on %s failed: %s; trying again when "
			    "the link comes up next",
			    st->s->id, peer_name(pv->peer), r == -EREMOTEIO ? error : strerror(-r));
		return;
	}
	pv->waiting = false;
	pv->created = true;
	log_info("segment '%s': remote segment '%s' created on %s (restored)", st->s->id, st->rid,
		 peer_name(pv->peer));
}

void chain_remote_peer_up(struct peer *p)
{
	for (struct remote_state *st = remotes; st; st = st->remotes_next)
		for (size_t i = 0; i < st->n_prov; i++) {
			struct provider *pv = &st->prov[i];
			_cleanup_free_ char *line = NULL;
			char id[128];

			if (pv->peer != p)
				continue;
			pv->retry_at = 0;
			if (pv->waiting) {
				pv->rq = peer_request_cancel(pv->rq);
				if (peer_ctl_request(p, st->create_line, on_waited_create, pv,
						     &pv->rq) < 0)
					pv->rq = NULL;
				continue;
			}
			snprintf(id, sizeof(id), "%s", st->rid);
			pv->rq = peer_request_cancel(pv->rq);
			if (ctl_request_format(
				    &(struct ctl_request){ .op = CTL_OP_RENEW, .id = id }, &line) <
				    0 ||
			    peer_ctl_request(p, line, on_renewed, pv, &pv->rq) < 0)
				pv->rq = NULL;
		}
}

const char *chain_remote_child(const struct segment *s, size_t *iter, const char **ret_host,
			       char **ret_state)
{
	/* @iter: the applied word in the high bits, the provider in the low 8 */
	while ((*iter >> 8) < s->n_applied) {
		const struct applied *a = &s->applied[*iter >> 8];
		size_t k = *iter & 0xff;

		if (a->op == &chain_op_remote && a->state) {
			const struct remote_state *st = a->state;

			if (st->held && k < st->n_prov) {
				const struct provider *pv = &st->prov[k];

				*iter += 1;
				*ret_host = peer_name(pv->peer);
				if (ret_state && pv->waiting)
					*ret_state = strdup("remote (waiting for its link)");
				else if (ret_state && st->n_prov == 1)
					*ret_state = strdup("remote");
				else if (ret_state &&
					 asprintf(ret_state,
						  "remote %s, %u streams, %llu opened, %llu failed",
						  peer_link_up(pv->peer) ? "up" : "down",
						  peer_streams(pv->peer),
						  (unsigned long long)pv->total,
						  (unsigned long long)pv->fails) < 0)
					*ret_state = NULL;
				return st->rid;
			}
		}
		*iter = ((*iter >> 8) + 1) << 8;
	}
	return NULL;
}

const struct chain_op chain_op_remote = {
	.apply = remote_apply,
	.cancel = remote_cancel,
	.undo = remote_undo,
};
