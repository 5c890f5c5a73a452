/* SPDX-License-Identifier: MIT */
/*
 * control-list.c - the streamed reply to `list`: the order of the segments, and its batches
 *
 * The order (top segments in creation order, each followed by its descendants) is computed once,
 * in one linear pass over the registry, when the request is taken. The lines are then formatted
 * CTL_LIST_BATCH at a time, each time the client's output queue falls under CTL_OUT_MAX, so one
 * long list neither holds the loop nor makes the daemon hold much for a slow reader. Segments
 * freed between batches are skipped. Each segment is followed by the segments it made on peer
 * daemons (`remote`); after the last come the peer links, then the end line with the count.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chains.h"
#include "cleanup.h"
#include "control-internal.h"
#include "control-show.h"
#include "control.h"
#include "ctl-proto.h"
#include "segment.h"

struct list_stream *control_list_stream_free(struct list_stream *l)
{
	if (l)
		free(l->order);
	free(l);
	return NULL;
}

/*
 * An open-addressing table of segment pointers (a power of two, at most half full), for the two
 * linear passes of a list: parent lookups while ordering, and which segments still exist while
 * streaming. Values are indexes into the registry walk.
 */
struct ptr_table {
	const struct segment **keys;
	size_t *vals;
	size_t mask;
};

static void ptr_table_done(struct ptr_table *t)
{
	free(t->keys);
	free(t->vals);
}

static int ptr_table_init(struct ptr_table *t, size_t n)
{
	size_t size = 16;

	while (size < 2 * n)
		size *= 2;
	t->keys = calloc(size, sizeof(*t->keys));
	t->vals = calloc(size, sizeof(*t->vals));
	t->mask = size - 1;
	if (!t->keys || !t->vals) {
		ptr_table_done(t);
		return -ENOMEM;
	}
	return 0;
}

static size_t ptr_hash(const struct segment *p, size_t mask)
{
	return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ULL >> 17) & mask;
}

static void ptr_table_put(struct ptr_table *t, const struct segment *p, size_t v)
{
	size_t i = ptr_hash(p, t->mask);

	while (t->keys[i] && t->keys[i] != p)
		i = (i + 1) & t->mask;
	t->keys[i] = p;
	t->vals[i] = v;
}

static bool ptr_table_get(const struct ptr_table *t, const struct segment *p, size_t *ret)
{
	for (size_t i = ptr_hash(p, t->mask); t->keys[i]; i = (i + 1) & t->mask)
		if (t->keys[i] == p) {
			*ret = t->vals[i];
			return true;
		}
	return false;
}

/*
 * Top segments in creation order, each followed by its descendants (children in creation order),
 * in O(n): index the registry, link each segment to its parent's child list, walk the trees.
 */
static int list_order(struct daemon *d, struct list_stream *l)
{
	_cleanup_free_ struct segment **reg = NULL;
	_cleanup_free_ size_t *first = NULL, *last = NULL, *next = NULL, *up = NULL;
	struct ptr_table t = { 0 };
	size_t n = 0, k = 0;
	int r;

	for (struct segment *s = d->segments; s; s = s->next)
		n++;
	reg = calloc(n + 1, sizeof(*reg));
	l->order = calloc(n + 1, sizeof(*l->order));
	first = calloc(n + 1, sizeof(*first));
	last = calloc(n + 1, sizeof(*last));
	next = calloc(n + 1, sizeof(*next));
	up = calloc(n + 1, sizeof(*up));
	if (!reg || !l->order || !first || !last || !next || !up)
		return -ENOMEM;
	r = ptr_table_init(&t, n);
	if (r < 0)
		return r;
	for (struct segment *s = d->segments; s; s = s->next) {
		reg[k] = s;
		first[k] = last[k] = next[k] = up[k] = SIZE_MAX;
		ptr_table_put(&t, s, k++);
	}
	for (size_t i = 0; i < k; i++) { /* k == n: the registry did not change meanwhile */
		size_t p;

		if (!reg[i]->parent || !ptr_table_get(&t, reg[i]->parent, &p))
			continue;
		up[i] = p;
		if (last[p] == SIZE_MAX)
			first[p] = i;
		else
			next[last[p]] = i;
		last[p] = i;
	}
	ptr_table_done(&t);
	for (size_t top = 0; top < k; top++) {
		size_t cur = top;

		/* a child whose parent is not registered (yet) is not shown, as before */
		if (reg[top]->parent)
			continue;
		for (;;) {
			l->order[l->n++] = reg[cur];
			if (first[cur] != SIZE_MAX) {
				cur = first[cur];
				continue;
			}
			while (cur != top && next[cur] == SIZE_MAX)
				cur = up[cur];
			if (cur == top)
				break;
			cur = next[cur];
		}
	}
	return 0;
}

/* The segments @s made on peer daemons (`remote`), one line each, with the peer as head. */
static int list_remote_children(struct ctl_client *c, struct segment *s)
{
	const char *rid, *host;
	char *state = NULL;
	size_t iter = 0;

	while ((rid = chain_remote_child(s, &iter, &host, &state))) {
		struct ctl_reply rep = { .has_segment = true };
		int r;

		rep.segment.id = strdup(rid);
		rep.segment.parent = strdup(s->id);
		r = asprintf(&rep.segment.head, "peer://%s", host);
		if (r < 0)
			rep.segment.head = NULL;
		rep.segment.tail = strdup("(on the peer)");
		rep.segment.state = state ?: strdup("remote");
		state = NULL;
		r = rep.segment.id && rep.segment.parent && rep.segment.head && rep.segment.tail &&
				    rep.segment.state
			    ? control_client_queue(c, &rep)
			    : -ENOMEM;
		ctl_segment_info_done(&rep.segment);
		if (r < 0)
			return r;
		c->list->count++;
	}
	return 0;
}

struct links_ctx {
	struct ctl_client *c;
	int r;
};

static void emit_link(const struct ctl_link_info *i, void *ctx)
{
	struct links_ctx *lc = ctx;

	if (lc->r >= 0)
		lc->r = control_client_queue(lc->c,
					     &(struct ctl_reply){ .has_link = true, .link = *i });
}

/*
 * The next batch of segment lines, then the link lines and the end line. Segments may have been freed since the
 * order was taken (a delete, a failed trigger's children): only pointers still in the registry
 * are read, which costs one pass over it per batch.
 */
int control_list_fill(struct ctl_client *c)
{
	struct list_stream *l = c->list;
	struct ptr_table live = { 0 };
	size_t n = 0, emitted = 0;
	int r = 0;

	for (struct segment *s = c->ctl->d->segments; s; s = s->next)
		n++;
	r = ptr_table_init(&live, n);
	if (r < 0)
		return r;
	for (struct segment *s = c->ctl->d->segments; s; s = s->next)
		ptr_table_put(&live, s, 0);
	while (l->pos < l->n && emitted < CTL_LIST_BATCH) {
		struct segment *s = l->order[l->pos];
		struct ctl_reply rep = { .has_segment = true };
		size_t dummy;

		if (!ptr_table_get(&live, s, &dummy)) {
			l->pos++;
			continue;
		}
		r = control_segment_info(s, &rep.segment);
		if (r >= 0)
			r = control_client_queue(c, &rep);
		ctl_segment_info_done(&rep.segment);
		if (r >= 0)
			r = list_remote_children(c, s);
		if (r < 0)
			break;
		l->pos++;
		l->count++;
		emitted++;
	}
	ptr_table_done(&live);
	if (r < 0)
		return r;
	if (l->pos == l->n && c->ctl->extras && c->ctl->extras->links) {
		struct links_ctx lc = { .c = c };

		c->ctl->extras->links(emit_link, &lc, c->ctl->extras_userdata);
		if (lc.r < 0)
			return lc.r;
	}
	if (l->pos == l->n) {
		r = control_client_queue(
			c, &(struct ctl_reply){ .ok = true, .has_count = true, .count = l->count });
		c->list = control_list_stream_free(c->list);
	}
	return r;
}

int control_handle_list(struct ctl_client *c, struct ctl_request *req)
{
	struct list_stream *l;
	int r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	r = list_order(c->ctl->d, l);
	if (r < 0) {
		control_list_stream_free(l);
		return r;
	}
	c->list = l; /* control_client_process() streams it */
	return 0;
}
