/* SPDX-License-Identifier: MIT */
/*
 * spec.c - parse and validate chain specs
 *
 * Every word is looked up in the table of words.h, and its flags decide what it does here; no
 * word is spelled in this file. spec_parse() reads the words in one pass, the way the original's parseSegment did: a phase
 * (head, tail, trigger) decides where a modifier goes, and a link word opens the next segment and
 * resets the phase. Unlike the original, every word is checked on the spot: unknown words, missing
 * arguments (an argument that is itself a keyword counts as missing, which catches the README's
 * `docker-ns tail docker-ns $mysql`; containers named like a keyword are therefore not
 * supported), and each argument by its own parser.
 *
 * A second pass walks the finished chain and refuses what can never work, modelling the runtime
 * rules: an endpoint's words overwrite what they give; a tail with no proto takes the head's (a
 * unix head's tail that names a host or port is tcp); a child's head starts as its parent's tail
 * (proto, netns, host); chain/remote/tunnel/udptunnel make the parent's tail the child's head; a
 * remote child's head starts fresh on the peer. Refused are: udp joined with tcp or unix in one
 * segment, a unix socket with a netns or container on the same endpoint, and a segment whose
 * tail would be its own head (no word acts on the tail, no chain-like link, and the head listens
 * in our own namespace on an address that 127.0.0.1:PORT reaches, or on a unix socket).
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "docker-args.h"
#include "errmsg.h"
#include "spec.h"
#include "url.h"
#include "words.h"

/* Deeper chains are surely a mistake; the limit also bounds the validator's stack arrays. */
#define SPEC_SEGMENTS_MAX 64
/* Tails of one routing segment. */
#define SPEC_TAILS_MAX 32

#define fail	       ERRMSG_FAIL

/* Flags of @t; 0 for a type out of range. */
static unsigned type_flags(enum spec_word_type t)
{
	const struct word_desc *d = words_of_type(t);

	return d ? d->flags : 0;
}

const char *spec_word_name(enum spec_word_type t)
{
	const struct word_desc *d = words_of_type(t);

	return d ? d->name : "?";
}

bool spec_word_is_link(enum spec_word_type t)
{
	return type_flags(t) & WORD_LINK;
}

bool spec_word_is_peer_hop(enum spec_word_type t)
{
	return type_flags(t) & WORD_PEER;
}

bool spec_id_valid(const char *id)
{
	size_t n;

	if (!id)
		return false;
	n = strlen(id);
	if (n < 1 || n > SPEC_ID_MAX || id[0] == '-' || id[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Frees a chain iteratively, so a long one cannot exhaust the stack. */
static void seg_free(struct spec_seg *s)
{
	while (s) {
		struct spec_seg *next = NULL;

		for (size_t i = 0; i < s->n_init; i++) {
			free(s->init[i].arg);
			if (s->init[i].child)
				next = s->init[i].child;
		}
		for (size_t i = 0; i < s->n_trig; i++) {
			free(s->trig[i].arg);
			if (s->trig[i].child)
				next = s->trig[i].child;
		}
		free(s->init);
		free(s->trig);
		free(s);
		s = next;
	}
}

struct spec *spec_free(struct spec *sp)
{
	if (!sp)
		return NULL;
	seg_free(sp->top);
	free(sp->id);
	free(sp);
	return NULL;
}

void spec_freep(struct spec **sp)
{
	*sp = spec_free(*sp);
}

/*
 * Fetches the argument of words[i]. A keyword in its place is the README's argument-order mistake;
 * for a modifier followed by tail/trigger the message suggests the order that was meant.
 */
static int need_arg(char *const *words, size_t i, size_t seg_start, const struct word_desc *d,
		    const char **ret, char **reterr)
{
	const char *w = words[i], *next = words[i + 1], *argname = d->argname;
	const struct word_desc *nd;
	_cleanup_free_ char *prefix = NULL;
	size_t len = 0;
	char *p;

	if (!next)
		return fail(reterr, "word %zu '%s': missing argument (%s %s)", i + 1, w, w,
			    argname);
	nd = words_find(next);
	if (!nd) {
		*ret = next;
		return 0;
	}
	if (!((nd->flags & (WORD_TO_TAIL | WORD_TO_TRIG)) && (d->flags & WORD_MOD)))
		return fail(reterr, "word %zu '%s': missing argument (got keyword '%s')", i + 1, w,
			    next);

	for (size_t j = seg_start; j < i; j++)
		len += strlen(words[j]) + 1;
	prefix = malloc(len + 1);
	if (!prefix)
		return -ENOMEM;
	p = prefix;
	*p = '\0';
	for (size_t j = seg_start; j < i; j++)
		p = stpcpy(stpcpy(p, words[j]), " ");
	return fail(
		reterr,
		"word %zu '%s': missing argument (got keyword '%s'; did you mean `%s%s %s %s`?)",
		i + 1, w, next, prefix, next, w, argname);
}

static int check_arg(const struct word_desc *d, size_t pos, const char *arg, char **reterr)
{
	_cleanup_free_ char *e = NULL;
	int r;

	if (!d->check)
		return 0;
	r = d->check(arg, &e);
	if (r == -EINVAL)
		return fail(reterr, "word %zu '%s' argument '%s': %s", pos, d->name, arg,
			    e ? e : "invalid");
	return r;
}

static int seg_append(struct spec_seg *s, bool trig, struct spec_word *w)
{
	struct spec_word **list = trig ? &s->trig : &s->init;
	size_t *n = trig ? &s->n_trig : &s->n_init;
	struct spec_word *nl = realloc(*list, (*n + 1) * sizeof(**list));

	if (!nl)
		return -ENOMEM;
	nl[(*n)++] = *w;
	*list = nl;
	return 0;
}

/* Per segment, what the validator needs to name words. */
struct seg_meta {
	unsigned first_pos;		   /* first word (not id) of the segment, 0 if none */
	unsigned link_pos;		   /* the link word that opened it, 0 for the top */
	unsigned n_tail_kw;		   /* `tail` keywords in its head/tail phases */
	unsigned tail_pos[SPEC_TAILS_MAX]; /* where each stands */
};

/* What the words of one endpoint (head or tail) say about it; *_pos name the word that said it. */
struct ep {
	enum url_proto proto;
	unsigned proto_pos;
	bool ns; /* ns@, docker-ns or docker-run */
	unsigned ns_pos;
	bool addr; /* a host, port or path was given */
	unsigned addr_pos;
	bool host_remote;   /* a host that 127.0.0.1 does not reach */
	unsigned fd_pos;    /* fd:NAME: an inherited listener (its protocol is known only then) */
	unsigned other_pos; /* a word besides fd:NAME that shapes this endpoint */
};

struct seg_info {
	struct ep h, t;
	size_t n_tail;
	const struct spec_word *link;
	enum url_proto t_proto; /* the tail's own proto (before a chain-like link replaces it) */
	unsigned t_proto_pos;
};

/* Listening here is reached by the default tail 127.0.0.1:PORT. */
static bool host_is_local(const char *h)
{
	return !h || h[0] == '\0' || strcmp(h, "127.0.0.1") == 0 ||
	       strcasecmp(h, "localhost") == 0 || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
}

static int ep_apply(struct ep *e, const struct spec_word *w)
{
	unsigned flags = type_flags(w->type);
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
				unsigned flags = type_flags(l[i].type);

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

/* A segment that routes by server name (WORD_ROUTE words): settle its tails and check them.
 * Any other segment has one tail, and every word's tail_idx goes back to 0. */
static int check_route(char *const *words, struct spec_seg *s, const struct seg_meta *m, size_t k,
		       char **reterr)
{
	const struct spec_word *route = NULL, *names[SPEC_TAILS_MAX] = {};
	unsigned addr[SPEC_TAILS_MAX] = {}, def = 0;
	struct ep h = {};
	int r;

	for (size_t i = 0; i < s->n_init; i++)
		if (!route && (type_flags(s->init[i].type) & WORD_ROUTE))
			route = &s->init[i];
	if (!route) {
		for (size_t i = 0; i < s->n_init; i++)
			s->init[i].tail_idx = 0;
		s->n_tails = 1;
		return 0;
	}
	s->n_tails = m->n_tail_kw;
	if (s->n_trig > 0)
		return fail_at(words, route->pos, reterr,
			       "segment %zu routes by server name and cannot have trigger words "
			       "(word %u)",
			       k + 1, s->trig[0].pos);
	for (size_t i = 0; i < s->n_init; i++) {
		const struct spec_word *w = &s->init[i];
		unsigned flags = type_flags(w->type);

		if (flags & WORD_LINK)
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
		if (!w->tail) {
			r = ep_apply(&h, w);
			if (r < 0)
				return r;
		} else if (!addr[w->tail_idx]) {
			addr[w->tail_idx] = w->pos;
		}
	}
	if (m->link_pos > 0) {
		const struct word_desc *ld = words_find(words[m->link_pos - 1]);

		if (ld && (ld->flags & WORD_PEER))
			return fail_at(words, route->pos, reterr,
				       "segment %zu is reached over a peer link (word %u), where "
				       "the ClientHello cannot be peeked yet",
				       k + 1, m->link_pos);
	}
	if (head_proto(&h) == URL_PROTO_UDP)
		return fail_at(words, route->pos, reterr,
			       "server names route TLS streams, and the head of segment %zu is udp",
			       k + 1);
	for (unsigned t = 0; t < s->n_tails; t++) {
		if (!addr[t]) {
			unsigned pos = names[t] ? names[t]->pos : m->tail_pos[t];

			return fail_at(
				words, pos, reterr,
				"tail %u of segment %zu has no address; add e.g. 'url :PORT'",
				t + 1, k + 1);
		}
		if (names[t])
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
		if (in->link && (type_flags(in->link->type) & WORD_JOIN) && k + 1 < nseg) {
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
		if (in->n_tail == 0 && (!in->link || !(type_flags(in->link->type) & WORD_JOIN)) &&
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

static struct spec *spec_new(void)
{
	struct spec *sp = calloc(1, sizeof(*sp));

	if (!sp)
		return NULL;
	sp->top = calloc(1, sizeof(*sp->top));
	if (!sp->top) {
		free(sp);
		return NULL;
	}
	return sp;
}

int spec_parse(char *const *words, struct spec **ret, char **reterr)
{
	_cleanup_(spec_freep) struct spec *sp = NULL;
	struct seg_meta meta[SPEC_SEGMENTS_MAX] = {};
	enum { PH_HEAD, PH_TAIL, PH_TRIG } phase = PH_HEAD;
	static const struct {
		unsigned flag;
		const char *name;
	} phases[] = {
		[PH_HEAD] = { WORD_IN_HEAD, "head words" },
		[PH_TAIL] = { WORD_IN_TAIL, "tail words" },
		[PH_TRIG] = { WORD_IN_TRIG, "triggered words" },
	};
	size_t nseg = 1, seg_start = 0, i;
	unsigned id_pos = 0;
	struct spec_seg *cur;
	int r;

	if (reterr)
		*reterr = NULL;
	if (!words || !words[0])
		return fail(reterr, "empty chain spec");

	sp = spec_new();
	if (!sp)
		return -ENOMEM;
	cur = sp->top;

	for (i = 0; words[i]; i++) {
		const char *w = words[i], *arg = NULL;
		unsigned pos = (unsigned)i + 1;
		const struct word_desc *d = words_find(w);
		struct spec_word sw = {};

		if (!d)
			return fail(reterr, "word %u '%s': unknown word (expected %s)", pos, w,
				    words_expected());
		if (!(d->flags & phases[phase].flag))
			return fail(reterr, "word %u '%s': not allowed in the %s of segment %zu",
				    pos, w, phases[phase].name, nseg);
		if (!(d->flags & WORD_SPEC_ID) && meta[nseg - 1].first_pos == 0)
			meta[nseg - 1].first_pos = pos;

		if (d->flags & WORD_TO_TAIL) {
			struct seg_meta *m = &meta[nseg - 1];

			if (phase == PH_TRIG)
				continue; /* after `trigger`, the later words still wait */
			if (m->n_tail_kw >= SPEC_TAILS_MAX)
				return fail(reterr, "word %u '%s': too many tails (at most %d)",
					    pos, w, SPEC_TAILS_MAX);
			/* a new tail if the segment routes (check_route() folds them otherwise) */
			m->tail_pos[m->n_tail_kw++] = pos;
			phase = PH_TAIL;
			continue;
		}
		if (d->flags & WORD_TO_TRIG) {
			phase = PH_TRIG;
			continue;
		}
		if (d->argname) {
			r = need_arg(words, i, seg_start, d, &arg, reterr);
			if (r < 0)
				return r;
			r = check_arg(d, pos, arg, reterr);
			if (r < 0)
				return r;
			i++;
		}
		if (d->flags & WORD_SPEC_ID) {
			assert(arg); /* the table gives `id` an argument */
			if (sp->id)
				return fail(reterr,
					    "word %u '%s': id given twice (first as word %u)", pos,
					    w, id_pos);
			sp->id = strdup(arg);
			if (!sp->id)
				return -ENOMEM;
			id_pos = pos;
			continue;
		}

		assert(d->type >= 0); /* every keyword was handled above */
		sw = (struct spec_word){ .type = (enum spec_word_type)d->type, .pos = pos };
		/* links carry no tail flag: their place in init or trig says all */
		sw.tail = (d->flags & WORD_MOD) && phase != PH_HEAD;
		if (phase == PH_TAIL)
			sw.tail_idx = meta[nseg - 1].n_tail_kw - 1;
		if (arg) {
			sw.arg = strdup(arg);
			if (!sw.arg)
				return -ENOMEM;
		}
		if (spec_word_is_link(sw.type)) {
			if (nseg >= SPEC_SEGMENTS_MAX) {
				free(sw.arg);
				return fail(reterr, "word %u '%s': too many segments (at most %d)",
					    pos, w, SPEC_SEGMENTS_MAX);
			}
			sw.child = calloc(1, sizeof(*sw.child));
			if (!sw.child) {
				free(sw.arg);
				return -ENOMEM;
			}
		}
		/* a segment option runs at creation, wherever it stands */
		r = seg_append(cur, phase == PH_TRIG && !(d->flags & WORD_SEG), &sw);
		if (r < 0) {
			free(sw.arg);
			free(sw.child);
			return r;
		}
		if (sw.child) {
			cur = sw.child;
			phase = PH_HEAD;
			meta[nseg++] = (struct seg_meta){ .link_pos = pos };
			seg_start = i + 1;
		}
	}

	r = check_routes(words, sp, meta, nseg, reterr);
	if (r < 0)
		return r;
	r = check_seg_options(words, sp, nseg, reterr);
	if (r < 0)
		return r;
	r = validate(words, sp, meta, nseg, reterr);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(sp);
	return 0;
}

static int word_add(char ***l, size_t *n, const struct spec_word *w)
{
	int r;

	r = strv_push_dup(l, n, spec_word_name(w->type));
	if (r < 0 || !w->arg)
		return r;
	return strv_push_dup(l, n, w->arg);
}

int spec_seg_to_words(const struct spec_seg *seg, char ***ret)
{
	_cleanup_(strv_freep) char **l = NULL;
	size_t n = 0;
	int r;

	l = calloc(1, sizeof(char *));
	if (!l)
		return -ENOMEM;
	while (seg) {
		const struct spec_seg *next = NULL;
		long tail = -1; /* the tail the last `tail` opened */

		for (size_t i = 0; i < seg->n_init; i++) {
			const struct spec_word *w = &seg->init[i];
			bool in_tail = w->tail || (type_flags(w->type) & WORD_ROUTE);

			if (!spec_word_is_link(w->type) && in_tail && tail != (long)w->tail_idx) {
				r = strv_push_dup(&l, &n, words_with(WORD_TO_TAIL)->name);
				if (r < 0)
					return r;
				tail = w->tail_idx;
			}
			r = word_add(&l, &n, w);
			if (r < 0)
				return r;
			if (w->child)
				next = w->child;
		}
		if (seg->n_trig > 0) {
			r = strv_push_dup(&l, &n, words_with(WORD_TO_TRIG)->name);
			if (r < 0)
				return r;
		}
		for (size_t i = 0; i < seg->n_trig; i++) {
			r = word_add(&l, &n, &seg->trig[i]);
			if (r < 0)
				return r;
			if (seg->trig[i].child)
				next = seg->trig[i].child;
		}
		seg = next;
	}
	*ret = TAKE_PTR(l);
	return 0;
}
