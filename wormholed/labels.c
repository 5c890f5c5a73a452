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
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chains.h"
#include "cleanup.h"
#include "docker.h"
#include "labels.h"
#include "list.h"
#include "log.h"
#include "publish-label.h"
#include "segment.h"
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
};

/* An inspect in flight, cancelled if the labels go first. */
struct lookup {
	struct labels *l;
	LIST_FIELDS(struct lookup, lookups);
	struct docker_op *op;
};

struct labels {
	struct daemon *d;
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

/* Deletes every segment of @p and frees it. */
static void pub_free(struct pub *p, const char *why)
{
	if (p->inspect_op)
		docker_op_cancel(p->inspect_op);
	if (p->pending)
		segment_free(p->pending); /* cancels its docker-ns inspect; the spec goes with it */
	for (size_t i = 0; i < p->n_seg; i++) {
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
	free(p->cid);
	free(p->name);
	free(p);
}

static void pub_next(struct pub *p);

static void pub_refused(struct pub *p, const char *what, const char *err)
{
	log_error("container '%s': label " PUBLISH_LABEL " refused: %s: %s; nothing published",
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
	if (remote) {
		pub_refused(p, PUBLISH_REMOTE_LABEL,
			    "publishing through a peer is not supported yet");
		return;
	}
	r = publish_label_parse(value, p->name, &p->items, &p->n_items, &err);
	if (r == -ENOMEM)
		goto oom;
	if (r < 0) {
		pub_refused(p, value, err ?: "invalid");
		return;
	}
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

int labels_new(struct daemon *d, struct labels **ret)
{
	static const char *const actions[] = { "start", "die", "destroy", NULL };
	const struct docker_events_filter filter = { .label = PUBLISH_LABEL, .actions = actions };
	struct labels *l;
	int r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->d = d;
	r = docker_events(d->docker, &filter, on_event, l, &l->events_op);
	if (r < 0) {
		free(l);
		return r;
	}
	scan(l); /* after subscribing, so nothing starts unseen in between */
	*ret = l;
	return 0;
}

struct labels *labels_free(struct labels *l)
{
	if (!l)
		return NULL;
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

		/* the segments stay (the daemon deletes them at exit); only forget them */
		p->n_seg = 0;
		pub_free(p, "is no longer followed");
	}
	free(l);
	return NULL;
}
