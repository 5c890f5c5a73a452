/* SPDX-License-Identifier: MIT */
/*
 * labels.c - containers that publish themselves: `wormhole.publish=8080:80,udp/5353:53`
 *
 * With --docker-labels the daemon follows Docker's event stream (no polling), filtered on the
 * label key. A container that starts is inspected for its labels; each item of its
 * wormhole.publish label (lib/grammar/publish-label.h) becomes a segment
 * `id NAME.HEAD url HEAD tail url :PORT docker-ns ID`, created one after the other. Publishing is
 * all or nothing: if one item is refused (its id or port is taken, the label is malformed), the
 * items already created are deleted again and the refusal is logged. A container that dies or is
 * removed takes its segments with it; its next start publishes them again, in its new namespace
 * (`docker restart` = die + start). At start, and after the event stream came back (dockerd
 * restarted), the containers carrying the label are listed and each is inspected: running ones
 * not yet published are published, published ones no longer running are withdrawn.
 *
 * Segments are remembered by id, never by pointer: a user may `wormhole delete` one.
 *
 * With `wormhole.publish.remote=HOST` the items are published on the peer daemon HOST instead,
 * never here: each becomes HOST's segment `id OURNAME.NAME.HEAD url HEAD remote OURNAME tail url
 * :PORT docker-ns ID`, asked for over the link to HOST (control requests through the same helpers
 * `remote` uses: peer_ctl_request() in lib/peer, chain_remote_send()). HOST listens on HEAD and its `remote OURNAME` hop creates, back here over the same
 * link, the segment with a peer-link head and the container's tail, so connections to HOST's
 * HEAD travel the link into the container. HOST reaches us by name, so we keep the link to HOST
 * up ourselves with our name said on it, as `wormhole link HOST` does (peer.c). The id carries
 * our name (names are unique among the daemons linked to HOST, and two hosts may run a
 * container "web"), so a segment of that id on HOST is ours from an earlier link or run: each
 * item is renewed first (its lease moves to the current link) and created only when HOST has no
 * such segment. All or nothing as locally: a refusal by HOST (its port taken, an id used by
 * something else, a scoped key's rule) deletes what was made there and is logged with
 * HOST's reason. A link that fails meanwhile is not a refusal: the publication waits, and goes
 * on (renewing what is there) each time HOST takes our name on a new link. A HOST that dials us
 * (a daemon known here by the name it claimed, behind NAT) is reached the other way round: the
 * link is its own, and its segment's `remote` names the address of ours that it dialed. When the
 * container
 * stops, or the daemon stops, its segments on HOST are deleted; HOST deletes what is left
 * there by itself once our link has been gone for its lease time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chains.h"
#include "cleanup.h"
#include "ctl-proto.h"
#include "docker.h"
#include "h2-link.h"
#include "labels.h"
#include "link-manager.h"
#include "list.h"
#include "log.h"
#include "peer.h"
#include "publish-label.h"
#include "segment.h"
#include "sockaddr.h"
#include "spec.h"
#include "strv.h"

#define PUBLISH_LABEL	     "wormhole.publish"
#define PUBLISH_REMOTE_LABEL "wormhole.publish.remote"

struct pub {
	struct labels *l;
	LIST_FIELDS(struct pub, pubs);
	char *cid, *name;
	struct publish_item *items;
	size_t n_items, next; /* items[0..next) are created (or being created: @pending) */
	char **seg_ids;	      /* the segments created, by id */
	size_t n_seg;
	struct segment *pending;      /* a creation in progress (not registered yet) */
	struct docker_op *inspect_op; /* looking the container up */
	bool withdraw;		      /* died while being published */
	/* wormhole.publish.remote=HOST: @seg_ids are segments on @peer, items[i].id prefixed */
	char *remote;		 /* HOST as the label says it */
	struct peer *peer;	 /* NULL: published here */
	bool link_held;		 /* through peer_server_label_link(), or peer_hold() (@named) */
	bool named;		 /* @peer dials us: it reaches us back by address, not by name */
	struct peer_request *rq; /* the renew or create of items[next] */
	bool creating;		 /* @rq is a create (items[next] may exist there) */
	bool published;		 /* every item is there */
};

/* An inspect in flight, cancelled if the labels go first. */
struct lookup {
	struct labels *l;
	LIST_FIELDS(struct lookup, lookups);
	struct docker_op *op;
};

struct labels {
	struct daemon *d;
	struct peer_server *ps; /* NULL: no peer key */
	struct docker_op *events_op;
	struct docker_op *list_op;
	struct pub *pubs;
	struct lookup *lookups;
};

static struct pub *pub_find(struct labels *l, const char *cid)
{
	struct pub *p;

	LIST_FOREACH(pubs, p, l->pubs)
		if (strcmp(p->cid, cid) == 0)
			return p;
	return NULL;
}

/* Deletes every segment of @p on its peer, and lets the link go. */
static void pub_remote_withdraw(struct pub *p, const char *why)
{
	if (p->rq && p->creating) /* it may have been made there already */
		chain_remote_send(p->peer, CTL_OP_DELETE, p->items[p->next].id);
	p->rq = peer_request_cancel(p->rq);
	for (size_t i = 0; i < p->n_seg; i++) {
		log_info("container '%s' %s: deleting its segment '%s' on %s", p->name, why,
			 p->seg_ids[i], peer_name(p->peer));
		chain_remote_send(p->peer, CTL_OP_DELETE, p->seg_ids[i]);
	}
	if (p->link_held && p->named)
		peer_hold(p->peer, false);
	else if (p->link_held)
		(void)peer_server_label_link(p->l->ps, p->peer, false);
	p->peer = peer_unref(p->peer);
}

/* Deletes every segment of @p and frees it. */
static void pub_free(struct pub *p, const char *why)
{
	if (p->inspect_op)
		docker_op_cancel(p->inspect_op);
	if (p->pending)
		segment_free(p->pending); /* cancels its docker-ns inspect; the spec goes with it */
	if (p->peer)
		pub_remote_withdraw(p, why);
	for (size_t i = 0; i < p->n_seg && !p->remote; i++) {
		struct segment *s = segment_find(p->l->d, p->seg_ids[i]);

		if (s && !s->parent) {
			log_info("container '%s' %s: deleting its segment '%s'", p->name, why,
				 p->seg_ids[i]);
			segment_free(s);
		}
	}
	LIST_REMOVE(pubs, p->l->pubs, p);
	strv_free(p->seg_ids);
	publish_items_free(p->items, p->n_items);
	free(p->remote);
	free(p->cid);
	free(p->name);
	free(p);
}

static void pub_next(struct pub *p);

static void pub_refused(struct pub *p, const char *what, const char *err)
{
	if (p->remote)
		log_error("container '%s': label " PUBLISH_LABEL " refused on %s: %s: %s; nothing "
			  "published",
			  p->name, p->remote, what, err);
	else
		log_error("container '%s': label " PUBLISH_LABEL " refused: %s: %s; nothing "
			  "published",
			  p->name, what, err);
	pub_free(p, "was refused");
}

static int pub_record(struct pub *p, struct segment *s)
{
	int r = strv_push_dup(&p->seg_ids, &p->n_seg, s->id);

	if (r < 0)
		return r;
	log_info("container '%s': published %s as segment '%s'", p->name, p->items[p->next].head,
		 s->id);
	p->next++;
	return 0;
}

static void on_pub_created(struct segment *s, int r, char *error, void *userdata)
{
	struct pub *p = userdata;
	_cleanup_free_ char *err = error;

	p->pending = NULL;
	if (r >= 0)
		r = pub_record(p, s);
	if (r < 0) {
		if (s) /* recorded nothing: delete it here */
			segment_free(s);
		pub_refused(p, p->items[p->next].id, err ?: strerror(-r));
		return;
	}
	pub_next(p);
}

static void pub_next(struct pub *p)
{
	while (p->next < p->n_items) {
		const struct publish_item *it = &p->items[p->next];
		_cleanup_(spec_freep) struct spec *sp = NULL;
		_cleanup_free_ char *err = NULL;
		/* spec_parse() takes writable strings, as argv is */
		static char w_id[] = "id", w_url[] = "url", w_tail[] = "tail", w_ns[] = "docker-ns";
		char *words[] = { w_id,	 it->id,   w_url, it->head, w_tail,
				  w_url, it->tail, w_ns,  p->cid,   NULL };
		struct segment *s = NULL;
		int r;

		r = spec_parse(words, &sp, &err);
		if (r >= 0)
			r = chain_check_supported(sp->top, &err);
		if (r >= 0)
			r = segment_create(p->l->d, sp->id, sp, sp->top, NULL, NULL, on_pub_created,
					   p, &s, &err);
		if (r == 1) {
			TAKE_PTR(sp);
			p->pending = s;
			return;
		}
		if (r >= 0) {
			TAKE_PTR(sp);
			r = pub_record(p, s);
			if (r < 0)
				segment_free(s);
		}
		if (r < 0) {
			pub_refused(p, it->id, err ?: strerror(-r));
			return;
		}
	}
}

/* ---- publishing on a peer (wormhole.publish.remote=HOST) -------------------------------- */

static void remote_step(struct pub *p);

/* Not a refusal: the link failed. Go on when HOST takes our name on a new one. */
static void remote_wait(struct pub *p, int r)
{
	p->published = false;
	log_warning("container '%s': cannot publish on %s now: %s; going on when the link is back",
		    p->name, p->remote, strerror(-r));
}

static int remote_record(struct pub *p)
{
	const char *id = p->items[p->next].id;
	int r;

	for (size_t i = 0; i < p->n_seg; i++)
		if (strcmp(p->seg_ids[i], id) == 0)
			goto next;
	r = strv_push_dup(&p->seg_ids, &p->n_seg, id);
	if (r < 0)
		return r;
	log_info("container '%s': published %s on %s as segment '%s'", p->name,
		 p->items[p->next].head, p->remote, id);
next:
	p->next++;
	return 0;
}

/* HOST answered the create or renew of the current item: refused (its reason), recorded and on to
 * the next, or waiting for the link (made there or not: the renew after the link is back finds
 * out) */
static void remote_answered(struct pub *p, int r, const char *error)
{
	if (r == -EREMOTEIO) {
		pub_refused(p, p->items[p->next].id, error);
		return;
	}
	if (r >= 0)
		r = remote_record(p);
	if (r == -ENOMEM) {
		pub_refused(p, p->items[p->next].id, strerror(-r));
		return;
	}
	if (r < 0) {
		remote_wait(p, r);
		return;
	}
	remote_step(p);
}

static void on_remote_created(void *userdata, int r, const char *error)
{
	struct pub *p = userdata;

	p->rq = NULL;
	p->creating = false;
	remote_answered(p, r, error);
}

static void remote_create(struct pub *p)
{
	const struct publish_item *it = &p->items[p->next];
	_cleanup_free_ char *line = NULL;
	static char w_id[] = "id", w_url[] = "url", w_remote[] = "remote", w_tail[] = "tail",
		    w_ns[] = "docker-ns";
	char back[SOCKADDR_STR_MAX];
	char *words[] = { w_id,	  it->id, w_url,    it->head, w_remote, back,
			  w_tail, w_url,  it->tail, w_ns,     p->cid,	NULL };
	int r = 0;

	/* how HOST reaches us back: by our name on the link we dial, or, when it dials us, at the
	 * address it dialed */
	if (p->named) {
		struct h2_link *hl = peer_manager_named_link(p->l->d->peers, peer_name(p->peer));

		r = hl ? h2_link_local(hl, back) : -EHOSTUNREACH;
	} else
		snprintf(back, sizeof(back), "%s", peer_server_name(p->l->ps));
	if (r >= 0)
		r = ctl_request_format(&(struct ctl_request){ .op = CTL_OP_CREATE, .words = words },
				       &line);
	if (r >= 0)
		r = peer_ctl_request(p->peer, line, on_remote_created, p, &p->rq);
	if (r == -ENOMEM) {
		pub_refused(p, it->id, strerror(-r));
		return;
	}
	if (r < 0) {
		remote_wait(p, r);
		return;
	}
	p->creating = true;
}

static void on_remote_renewed(void *userdata, int r, const char *error)
{
	struct pub *p = userdata;

	p->rq = NULL;
	if (r == -EREMOTEIO && strstr(error, "no such segment")) {
		remote_create(p);
		return;
	}
	/* else there, but not ours ("has no lease"), or a rule says no: refused */
	remote_answered(p, r, error);
}

/* The next item: renewed if HOST has it from an earlier link or run of ours, else created. */
static void remote_step(struct pub *p)
{
	_cleanup_free_ char *line = NULL;
	int r;

	if (p->next == p->n_items) {
		if (!p->published)
			log_info("container '%s': published on %s (%zu segment%s)", p->name,
				 p->remote, p->n_seg, p->n_seg == 1 ? "" : "s");
		p->published = true;
		return;
	}
	r = ctl_request_format(
		&(struct ctl_request){ .op = CTL_OP_RENEW, .id = p->items[p->next].id }, &line);
	if (r >= 0)
		r = peer_ctl_request(p->peer, line, on_remote_renewed, p, &p->rq);
	if (r == -ENOMEM) {
		pub_refused(p, p->items[p->next].id, strerror(-r));
		return;
	}
	if (r < 0)
		remote_wait(p, r);
}

/* HOST took our name on a (new) link: publish, or renew what is there, from the first item. */
static void on_peer_named(struct peer *peer, void *userdata)
{
	struct labels *l = userdata;
	struct pub *p, *n;

	LIST_FOREACH_SAFE(pubs, p, n, l->pubs)
	{ /* a refusal frees p */
		if (p->peer != peer)
			continue;
		/* an answer from the old link will not come: what it made is found by its renew */
		p->rq = peer_request_cancel(p->rq);
		p->creating = false;
		p->next = 0;
		remote_step(p);
	}
}

static void pub_remote_start(struct pub *p, const char *remote)
{
	_cleanup_free_ char *err = NULL;
	const char *self;
	int r;

	if (!p->l->ps) {
		pub_refused(p, PUBLISH_REMOTE_LABEL,
			    "this wormholed has no peer key (start it with -K PATH)");
		return;
	}
	self = peer_server_name(p->l->ps);
	r = peer_manager_get_arg(p->l->d->peers, remote, false, &p->peer, &err);
	if (r < 0) {
		pub_refused(p, PUBLISH_REMOTE_LABEL, err ?: strerror(-r));
		return;
	}
	p->named = peer_is_named(p->peer);
	for (size_t i = 0; i < p->n_items; i++) {
		char *id = NULL;

		if (strlen(self) + 1 + strlen(p->items[i].id) > SPEC_ID_MAX) {
			char why[96];

			snprintf(why, sizeof(why),
				 "with this daemon's name in front, the segment id is longer than "
				 "%d",
				 SPEC_ID_MAX);
			pub_refused(p, p->items[i].id, why);
			return;
		}
		if (asprintf(&id, "%s.%s", self, p->items[i].id) < 0) {
			pub_refused(p, p->items[i].id, strerror(ENOMEM));
			return;
		}
		free(p->items[i].id);
		p->items[i].id = id;
	}
	if (p->named) { /* its own link: held, so that we hear when it comes back */
		peer_hold(p->peer, true);
		r = peer_link_up(p->peer);
	} else
		r = peer_server_label_link(p->l->ps, p->peer, true);
	if (r < 0) {
		pub_refused(p, PUBLISH_REMOTE_LABEL, strerror(-r));
		return;
	}
	p->link_held = true;
	if (r == 1)
		remote_step(p);
	else
		log_info("container '%s': publishing on %s once the link there is up", p->name,
			 p->remote);
}

static void pub_start(struct labels *l, const struct docker_container_info *info)
{
	_cleanup_free_ char *err = NULL;
	const char *value = NULL, *remote = NULL;
	struct pub *p;
	int r;

	for (char **kv = info->labels; kv && *kv; kv++)
		if (strncmp(*kv, PUBLISH_LABEL "=", strlen(PUBLISH_LABEL) + 1) == 0)
			value = *kv + strlen(PUBLISH_LABEL) + 1;
		else if (strncmp(*kv, PUBLISH_REMOTE_LABEL "=", strlen(PUBLISH_REMOTE_LABEL) + 1) ==
			 0)
			remote = *kv + strlen(PUBLISH_REMOTE_LABEL) + 1;
	if (!value || pub_find(l, info->id))
		return;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto oom;
	p->l = l;
	p->cid = strdup(info->id);
	p->name = strdup(info->name ?: info->id);
	LIST_PREPEND(pubs, l->pubs, p);
	if (!p->cid || !p->name)
		goto oom;
	/* what is meant for another host is never published on this one instead */
	if (remote && !(p->remote = strdup(remote)))
		goto oom;
	r = publish_label_parse(value, p->name, &p->items, &p->n_items, &err);
	if (r == -ENOMEM)
		goto oom;
	if (r < 0) {
		pub_refused(p, value, err ?: "invalid");
		return;
	}
	if (remote)
		pub_remote_start(p, remote);
	else
		pub_next(p);
	return;
oom:
	log_error("container '%s': out of memory publishing it", info->name ?: info->id);
	if (p)
		pub_free(p, "could not be published");
}

/* ---- following Docker ------------------------------------------------------------------- */

static void on_inspected(struct docker *dk, int r, const char *error,
			 const struct docker_container_info *info, void *userdata)
{
	struct lookup *lk = userdata;
	struct labels *l = lk->l;
	struct pub *p;

	LIST_REMOVE(lookups, l->lookups, lk);
	free(lk);

	if (r < 0) {
		log_debug("a labelled container cannot be inspected: %s, ignoring",
			  error ?: strerror(-r));
		return;
	}
	p = pub_find(l, info->id);
	if (!info->running) {
		if (p)
			pub_free(p, "is not running");
		return;
	}
	pub_start(l, info);
}

static void inspect_container(struct labels *l, const char *id)
{
	struct lookup *lk = calloc(1, sizeof(*lk));

	if (!lk || docker_inspect(l->d->docker, id, on_inspected, lk, &lk->op) < 0) {
		log_warning("cannot inspect container %.12s: out of memory, ignoring", id);
		free(lk);
		return;
	}
	lk->l = l;
	LIST_PREPEND(lookups, l->lookups, lk);
}

static void on_listed(struct docker *dk, int r, const char *error, char *const *ids, void *userdata)
{
	struct labels *l = userdata;
	struct pub *p, *n;

	l->list_op = NULL;
	if (r < 0) {
		log_warning("cannot list containers labelled " PUBLISH_LABEL ": %s",
			    error ?: strerror(-r));
		return;
	}
	for (char *const *id = ids; *id; id++)
		inspect_container(l, *id);
	/* published ones that are gone altogether */
	LIST_FOREACH_SAFE(pubs, p, n, l->pubs)
	{
		bool found = false;

		for (char *const *id = ids; *id && !found; id++)
			found = strcmp(*id, p->cid) == 0;
		if (!found)
			pub_free(p, "is gone");
	}
}

static void scan(struct labels *l)
{
	if (l->list_op)
		return;
	if (docker_list_by_label(l->d->docker, PUBLISH_LABEL, on_listed, l, &l->list_op) < 0)
		log_warning("cannot list labelled containers: out of memory, ignoring");
}

static void on_event(struct docker *dk, const struct docker_event *ev, void *userdata)
{
	struct labels *l = userdata;
	struct pub *p;

	if (strcmp(ev->action, "reconnect") == 0) {
		log_info("Docker events are back, checking labelled containers");
		scan(l);
		return;
	}
	if (!ev->id)
		return;
	if (strcmp(ev->action, "start") == 0) {
		inspect_container(l, ev->id);
		return;
	}
	p = pub_find(l, ev->id);
	if (p)
		pub_free(p, strcmp(ev->action, "die") == 0 ? "stopped" : "was removed");
}

int labels_new(struct daemon *d, struct peer_server *ps, struct labels **ret)
{
	static const char *const actions[] = { "start", "die", "destroy", NULL };
	const struct docker_events_filter filter = { .label = PUBLISH_LABEL, .actions = actions };
	struct labels *l;
	int r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->d = d;
	l->ps = ps;
	r = docker_events(d->docker, &filter, on_event, l, &l->events_op);
	if (r < 0) {
		free(l);
		return r;
	}
	if (ps)
		peer_server_set_named_hook(ps, on_peer_named, l);
	scan(l); /* after subscribing, so nothing starts unseen in between */
	*ret = l;
	return 0;
}

struct labels *labels_free(struct labels *l)
{
	if (!l)
		return NULL;
	if (l->ps)
		peer_server_set_named_hook(l->ps, NULL, NULL);
	if (l->events_op)
		docker_op_cancel(l->events_op);
	if (l->list_op)
		docker_op_cancel(l->list_op);
	while (l->lookups) {
		struct lookup *lk = l->lookups;

		docker_op_cancel(lk->op);
		LIST_REMOVE(lookups, l->lookups, lk);
		free(lk);
	}
	while (l->pubs) {
		struct pub *p = l->pubs;

		/* the segments here stay (the daemon deletes them at exit); only forget them;
		 * those on a peer are deleted now: nothing here would delete them later */
		if (!p->peer)
			p->n_seg = 0;
		pub_free(p, "is no longer followed");
	}
	free(l);
	return NULL;
}
