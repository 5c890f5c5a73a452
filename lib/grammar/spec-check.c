/* SPDX-License-Identifier: MIT */
/*
 * spec-check.c - the second pass over a chain spec: refuse what can never work
 *
 * It walks the chain spec_parse() built and refuses what can never work, modelling the runtime
 * rules: an endpoint's words overwrite what they give; a tail with no proto takes the head's (a
 * unix head's tail that names a host or port is tcp); a child's head starts as its parent's tail
 * (proto, netns, host); chain/remote/tunnel/udptunnel make the parent's tail the child's head; a
 * remote child's head starts fresh on the peer. Refused are: udp joined with tcp or unix in one
 * segment, a unix socket with a netns or container on the same endpoint, and a segment whose
 * tail would be its own head (no word acts on the tail, no chain-like link, and the head listens
 * in our own namespace on an address that 127.0.0.1:PORT reaches, or on a unix socket).
 * Every message names the word at fault ("word 3 'url': ...").
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "errmsg.h"
#include "spec-internal.h"
#include "spec.h"
#include "url.h"
#include "words.h"

/* What the words of one endpoint (head or tail) say about it; *_pos name the word that said it. */
struct ep {
	enum url_proto proto;
	unsigned proto_pos;
	unsigned ns_pos;
	unsigned addr_pos;
	unsigned fd_pos;    /* fd:NAME: an inherited listener (its protocol is known only then) */
	unsigned other_pos; /* a word besides fd:NAME that shapes this endpoint */
	bool ns;	    /* ns@, docker-ns or docker-run */
	bool addr;	    /* a host, port or path was given */
	bool host_remote;   /* a host that 127.0.0.1 does not reach */
};

struct seg_info {
	struct ep h, t;
	size_t n_tail;
	const struct spec_word *link;
	enum url_proto t_proto; /* the tail's own proto (before a chain-like link replaces it) */
	unsigned t_proto_pos;
	const struct spec_word *multi; /* routing, or balancing over several tails: its first
					* `sni` or `balance` word */
};

/* Listening here is reached by the default tail 127.0.0.1:PORT. */
static bool host_is_local(const char *h)
{
	return !h || h[0] == '\0' || strcmp(h, "127.0.0.1") == 0 ||
	       strcasecmp(h, "localhost") == 0 || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
}

static int ep_apply(struct ep *e, const struct spec_word *w)
{
	unsigned flags = spec_type_flags(w->type);
	struct url u = {};
	int r;

	if (flags & WORD_EP_NS) {
		e->ns = true;
		e->ns_pos = w->pos;
		e->other_pos = w->pos;
		return 0;
	}
	if (!(flags & WORD_EP_URL))
		return 0;
	r = url_parse(w->arg, &u, NULL);
	if (r < 0)
		return r; /* checked already: only -ENOMEM */
	if (u.fd_name) {
		e->fd_pos = w->pos;
		url_done(&u);
		return 0;
	}
	e->other_pos = w->pos;
	if (u.proto != URL_PROTO_NONE) {
		e->proto = u.proto;
		e->proto_pos = w->pos;
	}
	if (u.ns) {
		e->ns = true;
		e->ns_pos = w->pos;
	}
	if (u.host || u.port || u.path) {
		e->addr = true;
		e->addr_pos = w->pos;
	}
	if (u.host)
		e->host_remote = !host_is_local(u.host);
	url_done(&u);
	return 0;
}

static unsigned max_pos(unsigned a, unsigned b)
{
	return a > b ? a : b;
}

static enum url_proto head_proto(const struct ep *h)
{
	return h->proto != URL_PROTO_NONE ? h->proto : URL_PROTO_TCP;
}

/* The validator's messages name the word at @pos: "word 3 'url': ...". */
#define fail_at(words, pos, reterr, fmt, ...) \
	fail(reterr, "word %u '%s': " fmt, (pos), (words)[(pos)-1], __VA_ARGS__)

/* Segment options (WORD_SEG): once per segment, and only where trigger words are to undo. */
static int check_seg_options(char *const *words, const struct spec *sp, size_t nseg, char **reterr)
{
	const struct spec_seg *s;

	s = sp->top;
	for (size_t k = 0; k < nseg && s; k++) {
		const struct spec_word *link = NULL;
		unsigned seen[_SPEC_WORD_TYPE_MAX] = {};

		for (size_t pass = 0; pass < 2; pass++) {
			const struct spec_word *l = pass ? s->trig : s->init;
			size_t n = pass ? s->n_trig : s->n_init;

			for (size_t i = 0; i < n; i++) {
				unsigned flags = spec_type_flags(l[i].type);

				if (l[i].child)
					link = &l[i];
				if (!(flags & WORD_SEG))
					continue;
				if (seen[l[i].type])
					return fail_at(
						words, l[i].pos, reterr,
						"given twice in segment %zu (first as word %u)",
						k + 1, seen[l[i].type]);
				seen[l[i].type] = l[i].pos;
				if ((flags & WORD_NEEDS_TRIG) && s->n_trig == 0)
					return fail_at(
						words, l[i].pos, reterr,
						"segment %zu has no trigger words to undo; add "
						"e.g. 'trigger docker-run ARGS'",
						k + 1);
			}
		}
		s = link ? link->child : NULL;
	}

	return 0;
}

/* The checks of a segment with several tails, by what makes it have them. */
static int check_balance(char *const *words, const struct spec_seg *s, size_t k,
			 const struct spec_word *bal, const struct ep *h, char **reterr)
{
	if (s->n_trig > 0)
		return fail_at(words, bal->pos, reterr,
			       "segment %zu balances over several tails and cannot have trigger "
			       "words (word %u)",
			       k + 1, s->trig[0].pos);
	if (head_proto(h) == URL_PROTO_UDP)
		return fail_at(
			words, bal->pos, reterr,
			"segment %zu balances TCP connections over several tails, and its head "
			"is udp",
			k + 1);
	return 0;
}

static int check_sni(char *const *words, const struct spec_seg *s, const struct seg_meta *m,
		     size_t k, const struct spec_word *route, const struct ep *h, char **reterr)
{
	if (s->n_trig > 0)
		return fail_at(words, route->pos, reterr,
			       "segment %zu routes by server name and cannot have trigger words "
			       "(word %u)",
			       k + 1, s->trig[0].pos);
	if (m->link_pos > 0) {
		const struct word_desc *ld = words_find(words[m->link_pos - 1]);

		if (ld && (ld->flags & WORD_PEER))
			return fail_at(words, route->pos, reterr,
				       "segment %zu is reached over a peer link (word %u), where "
				       "the ClientHello cannot be peeked yet",
				       k + 1, m->link_pos);
	}
	if (head_proto(h) == URL_PROTO_UDP)
		return fail_at(words, route->pos, reterr,
			       "server names route TLS streams, and the head of segment %zu is udp",
			       k + 1);
	return 0;
}

/*
 * A segment with several tails: one that routes by server name (WORD_ROUTE words), or one that
 * balances (a WORD_BALANCE word, no link word, more than one `tail`). Settle its tails and check
 * them. Any other segment has one tail, and every word's tail_idx goes back to 0 (a repeated
 * `tail` goes on with the one tail, as it always did).
 */
static int check_route(char *const *words, struct spec_seg *s, const struct seg_meta *m, size_t k,
		       char **reterr)
{
	const struct spec_word *route = NULL, *bal = NULL, *names[SPEC_TAILS_MAX] = {};
	unsigned addr[SPEC_TAILS_MAX] = {}, def = 0;
	struct ep h = {}, te[SPEC_TAILS_MAX] = {};
	bool link = false;
	int r;

	for (size_t pass = 0; pass < 2; pass++) {
		const struct spec_word *l = pass ? s->trig : s->init;
		size_t n = pass ? s->n_trig : s->n_init;

		for (size_t i = 0; i < n; i++) {
			unsigned flags = spec_type_flags(l[i].type);

			if (!route && (flags & WORD_ROUTE))
				route = &l[i];
			if (!bal && (flags & WORD_BALANCE))
				bal = &l[i];
			link = link || (flags & WORD_LINK);
		}
	}
	if (route && bal)
		return fail_at(words, bal->pos, reterr,
			       "segment %zu routes by server name (word %u): its tails serve "
			       "different names and cannot be balanced",
			       k + 1, route->pos);
	/* `balance` with a link word picks among providers (remote H1,H2): one tail, as before */
	if (!route && (!bal || link || m->n_tail_kw < 2)) {
		for (size_t i = 0; i < s->n_init; i++)
			s->init[i].tail_idx = 0;
		s->n_tails = 1;
		return 0;
	}
	s->n_tails = m->n_tail_kw;
	for (size_t i = 0; i < s->n_init; i++) {
		const struct spec_word *w = &s->init[i];
		unsigned flags = spec_type_flags(w->type);

		if (route && (flags & WORD_LINK))
			return fail_at(words, w->pos, reterr,
				       "segment %zu routes by server name (word %u) and cannot "
				       "link on",
				       k + 1, route->pos);
		if (flags & WORD_ROUTE) {
			for (size_t j = 0; j < i; j++) {
				const struct spec_word *o = &s->init[j];

				if (o->type == w->type && strcasecmp(o->arg, w->arg) == 0)
					return fail_at(words, w->pos, reterr,
						       "server name '%s' already routes to tail %u "
						       "(word %u)",
						       w->arg, o->tail_idx + 1, o->pos);
			}
			names[w->tail_idx] = w;
			continue;
		}
		r = ep_apply(w->tail ? &te[w->tail_idx] : &h, w);
		if (r < 0)
			return r;
		if (w->tail && !addr[w->tail_idx] && (flags & (WORD_EP_URL | WORD_EP_NS)))
			addr[w->tail_idx] = w->pos;
	}
	r = route ? check_sni(words, s, m, k, route, &h, reterr)
		  : check_balance(words, s, k, bal, &h, reterr);
	if (r < 0)
		return r;
	for (unsigned t = 0; t < s->n_tails; t++) {
		if (!addr[t]) {
			unsigned pos = names[t] ? names[t]->pos : m->tail_pos[t];

			return fail_at(
				words, pos, reterr,
				"tail %u of segment %zu has no address; add e.g. 'url :PORT'",
				t + 1, k + 1);
		}
		/* the merged tail of validate() would hide one odd tail among several */
		if (te[t].proto == URL_PROTO_UDP)
			return fail_at(words, te[t].proto_pos, reterr,
				       "tail %u of segment %zu is udp, and a segment with several "
				       "tails carries TCP streams",
				       t + 1, k + 1);
		if (te[t].proto == URL_PROTO_UNIX && te[t].ns)
			return fail_at(words, max_pos(te[t].proto_pos, te[t].ns_pos), reterr,
				       "unix sockets do not live in network namespaces (tail %u of "
				       "segment %zu)",
				       t + 1, k + 1);
		if (!route || names[t])
			continue;
		if (def)
			return fail_at(
				words, addr[t], reterr,
				"tail %u of segment %zu has no 'sni' and tail %u is the default "
				"already (one tail without 'sni' at most)",
				t + 1, k + 1, def);
		def = t + 1;
	}
	return 0;
}

static int check_routes(char *const *words, struct spec *sp, const struct seg_meta *meta,
			size_t nseg, char **reterr)
{
	struct spec_seg *s = sp->top;
	int r;

	for (size_t k = 0; k < nseg && s; k++) {
		struct spec_seg *next = NULL;

		r = check_route(words, s, &meta[k], k, reterr);
		if (r < 0)
			return r;
		for (size_t i = 0; i < s->n_init; i++)
			if (s->init[i].child)
				next = s->init[i].child;
		for (size_t i = 0; i < s->n_trig; i++)
			if (s->trig[i].child)
				next = s->trig[i].child;
		s = next;
	}
	return 0;
}

static int validate(char *const *words, const struct spec *sp, const struct seg_meta *meta,
		    size_t nseg, char **reterr)
{
	struct seg_info info[SPEC_SEGMENTS_MAX] = {};
	const struct spec_seg *s = sp->top;
	struct ep inherit = {};
	int r;

	for (size_t k = 0; k < nseg && s; k++) {
		struct seg_info *in = &info[k];
		enum url_proto hp;

		in->h = inherit;
		for (size_t pass = 0; pass < 2; pass++) {
			const struct spec_word *l = pass ? s->trig : s->init;
			size_t n = pass ? s->n_trig : s->n_init;

			for (size_t i = 0; i < n; i++) {
				if (spec_word_is_link(l[i].type)) {
					in->link = &l[i];
					continue;
				}
				if (!in->multi && ((spec_type_flags(l[i].type) & WORD_ROUTE) ||
						   (s->n_tails > 1 &&
						    (spec_type_flags(l[i].type) & WORD_BALANCE))))
					in->multi = &l[i];
				r = ep_apply(l[i].tail ? &in->t : &in->h, &l[i]);
				if (r < 0)
					return r;
				if (l[i].tail)
					in->n_tail++;
			}
		}
		hp = head_proto(&in->h);
		if (in->t.proto != URL_PROTO_NONE) {
			in->t_proto = in->t.proto;
			in->t_proto_pos = in->t.proto_pos;
		} else if (hp == URL_PROTO_UNIX && in->t.addr) {
			in->t_proto = URL_PROTO_TCP;
			in->t_proto_pos = in->t.addr_pos;
		} else {
			in->t_proto = hp;
			in->t_proto_pos = in->h.proto_pos;
		}

		inherit = (struct ep){};
		/* a peer hop's head starts fresh on the peer, but carries what this tail carries:
		 * datagrams or a byte stream */
		if (in->link && spec_word_is_peer_hop(in->link->type))
			inherit = (struct ep){
				.proto = in->t_proto == URL_PROTO_UDP ? URL_PROTO_UDP
								      : URL_PROTO_NONE,
				.proto_pos = in->t_proto_pos,
			};
		else if (in->link)
			inherit = (struct ep){
				.proto = in->t_proto,
				.proto_pos = in->t_proto_pos,
				.ns = in->t.ns,
				.ns_pos = in->t.ns_pos,
				.host_remote = in->t.host_remote,
			};
		s = in->link ? in->link->child : NULL;
	}

	for (size_t k = 0; k < nseg; k++) {
		const struct seg_info *in = &info[k];
		enum url_proto hp = head_proto(&in->h), tp = in->t_proto;
		unsigned tpos = in->t_proto_pos, seg = (unsigned)k + 1;

		/* every message stays one grep-able string */
		/* clang-format off */
		/* the head's protocol may come from the segment before (chain, child, remote) */
		if (in->multi && hp == URL_PROTO_UDP && (spec_type_flags(in->multi->type) & WORD_ROUTE)) {
			return fail_at(words, in->multi->pos, reterr,
				       "server names route TLS streams, and the head of segment %u is udp", seg);
		}
		if (in->multi && hp == URL_PROTO_UDP) {
			return fail_at(words, in->multi->pos, reterr,
				       "segment %u has several tails, which carry TCP streams, and its head is udp",
				       seg);
		}
		if (in->t.fd_pos) {
			return fail_at(words, in->t.fd_pos, reterr,
				       "fd:NAME is a listener passed by the service manager: a head, not a tail (segment %u)",
				       seg);
		}
		if (in->h.fd_pos && k > 0) {
			return fail_at(words, in->h.fd_pos, reterr,
				       "fd:NAME can only be the head of the first segment (segment %u)", seg);
		}
		if (in->h.fd_pos && in->h.other_pos) {
			return fail_at(words, max_pos(in->h.fd_pos, in->h.other_pos), reterr,
				       "a head from fd:NAME is complete: no other head words (segment %u)",
				       seg);
		}
		if (hp == URL_PROTO_UNIX && in->h.ns) {
			return fail_at(words, max_pos(in->h.proto_pos, in->h.ns_pos), reterr,
				       "unix sockets do not live in network namespaces (head of segment %u)",
				       seg);
		}
		if (hp == URL_PROTO_UNIX && k > 0 && info[k - 1].link &&
		    spec_word_is_peer_hop(info[k - 1].link->type)) {
			return fail_at(words, in->h.proto_pos, reterr,
				       "segment %u is created by '%s' on a peer and cannot listen on a unix socket",
				       seg, spec_word_name(info[k - 1].link->type));
		}
		if (tp == URL_PROTO_UNIX && in->t.ns) {
			return fail_at(words, max_pos(tpos, in->t.ns_pos), reterr,
				       "unix sockets do not live in network namespaces (tail of segment %u)",
				       seg);
		}
		if (in->link && (spec_type_flags(in->link->type) & WORD_JOIN) && k + 1 < nseg) {
			tp = head_proto(&info[k + 1].h);
			tpos = info[k + 1].h.proto_pos;
		}
		/* an inherited listener's protocol is checked when it is adopted */
		if (!in->h.fd_pos && (hp == URL_PROTO_UDP) != (tp == URL_PROTO_UDP)) {
			unsigned pos = max_pos(in->h.proto_pos, tpos);

			if (pos == 0)
				pos = in->link ? in->link->pos : meta[k].first_pos;
			pos = pos ? pos : 1;
			return fail_at(words, pos, reterr,
				       "segment %u would join a %s head to a %s tail (udp cannot be mixed with tcp or unix)",
				       seg, url_proto_name(hp), url_proto_name(tp));
		}
		if (in->n_tail == 0 && (!in->link || !(spec_type_flags(in->link->type) & WORD_JOIN)) &&
		    !in->h.ns && (hp == URL_PROTO_UNIX || !in->h.host_remote)) {
			unsigned pos = meta[k].first_pos ? meta[k].first_pos : meta[k].link_pos;

			pos = pos ? pos : 1;
			return fail_at(words, pos, reterr,
				       "segment %u: the tail is the head itself (nothing after 'tail'); add e.g. 'tail url :PORT'",
				       seg);
		}
		/* clang-format on */
	}
	return 0;
}

int spec_check(char *const *words, struct spec *sp, const struct seg_meta *meta, size_t nseg,
	       char **reterr)
{
	int r;

	r = check_routes(words, sp, meta, nseg, reterr);
	if (r < 0)
		return r;
	r = check_seg_options(words, sp, nseg, reterr);
	if (r < 0)
		return r;
	return validate(words, sp, meta, nseg, reterr);
}
