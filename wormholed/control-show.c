/* SPDX-License-Identifier: MIT */
/*
 * control-show.c - list rows and `wormhole show ID`
 *
 * A show reply is one line: the segment's row, the rows of its descendants (children, and their
 * children, in creation order), and one entry per TCP connection of any of them, with its client,
 * the tail it goes to, its state, its age and its bytes each way so far. The line is bounded: at
 * most CTL_SHOW_CONNS connections are described, and the reply says how many more there are.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "control-show.h"
#include "ctl-proto.h"
#include "engine.h"
#include "segment.h"
#include "time-util.h"

int control_segment_info(const struct segment *s, struct ctl_segment_info *i)
{
	*i = (struct ctl_segment_info){
		.conns_active = s->conns_active,
		.conns_total = s->conns_total,
	};
	segment_bytes(s, &i->bytes_in, &i->bytes_out);
	i->id = strdup(s->id);
	i->parent = s->parent ? strdup(s->parent->id) : NULL;
	i->head = segment_head_url(s, true);
	i->tail = segment_tails_text(s);
	i->state = segment_state_text(s);
	if (!i->id || (s->parent && !i->parent) || !i->head || !i->tail || !i->state)
		return -ENOMEM;
	if (s->route == SEGMENT_ROUTE_BALANCE && s->tail_ready) { /* each tail, for --json */
		i->tails = calloc(s->n_tails, sizeof(*i->tails));
		if (!i->tails)
			return -ENOMEM;
		i->n_tails = s->n_tails;
		for (size_t k = 0; k < s->n_tails; k++) {
			const struct segment_tail *t = k == 0 ? &s->tail : &s->more_tails[k - 1];
			struct ctl_tail_info *ti = &i->tails[k];

			ti->address = endpoint_url(&t->ep, true);
			ti->state = strdup(t->retry_usec ? "down" : "up");
			ti->conns_active = t->conns_active;
			ti->conns_total = t->conns_total;
			ti->failures = t->failures;
			if (!ti->address || !ti->state)
				return -ENOMEM;
		}
	}
	return 0;
}

static bool descends_from(const struct segment *s, const struct segment *top)
{
	for (; s; s = s->parent)
		if (s == top)
			return true;
	return false;
}

struct show_ctx {
	struct ctl_reply *rep;
	const char *segment;
	uint64_t now;
	size_t cap;
};

static int on_conn(const struct conn_info *ci, void *userdata)
{
	struct show_ctx *x = userdata;
	struct ctl_reply *rep = x->rep;
	struct ctl_conn_info *c;

	if (rep->n_conns >= CTL_SHOW_CONNS) {
		rep->conns_more++;
		return 0;
	}
	if (rep->n_conns == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;

		c = realloc(rep->conns, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		rep->conns = c;
		x->cap = cap;
	}
	c = &rep->conns[rep->n_conns];
	*c = (struct ctl_conn_info){
		.id = ci->id,
		.age_ms = x->now > ci->start_usec ? (x->now - ci->start_usec) / 1000 : 0,
		.bytes_in = ci->bytes_in,
		.bytes_out = ci->bytes_out,
		.segment = strdup(x->segment),
		.client = strdup(ci->client),
		.tail = strdup(ci->tail),
		.state = strdup(ci->state),
	};
	rep->n_conns++; /* freed with the reply, even half-filled */
	if (!c->segment || !c->client || !c->tail || !c->state)
		return -ENOMEM;
	return 0;
}

static int show_one(const struct segment *s, struct show_ctx *x)
{
	struct ctl_reply *rep = x->rep;
	int r;

	rep->n_segments++; /* freed with the reply, even half-filled */
	r = control_segment_info(s, &rep->segments[rep->n_segments - 1]);
	if (r < 0)
		return r;
	x->segment = s->id;
	return conn_foreach(s, on_conn, x);
}

int control_show(struct daemon *d, const char *id, struct ctl_reply *ret)
{
	struct ctl_reply rep = { .ok = true, .has_segments = true, .has_conns = true };
	struct segment *top = segment_find(d, id);
	struct show_ctx x = { .rep = &rep, .now = now_usec() };
	size_t n = 0;
	int r;

	if (!top) {
		if (asprintf(&rep.error, "segment '%s': no such segment", id) < 0)
			return -ENOMEM;
		*ret = (struct ctl_reply){ .ok = false, .error = rep.error };
		return 0;
	}
	for (struct segment *s = d->segments; s; s = s->next)
		n += descends_from(s, top);
	rep.segments = calloc(n + 1, sizeof(*rep.segments));
	if (!rep.segments)
		return -ENOMEM;
	/* the top first, then its descendants in the registry's (creation) order */
	r = show_one(top, &x);
	for (struct segment *s = d->segments; s && r >= 0; s = s->next)
		if (s != top && descends_from(s, top) && rep.n_segments < n)
			r = show_one(s, &x);
	if (r < 0) {
		ctl_reply_done(&rep);
		return r;
	}
	*ret = rep;
	return 0;
}
