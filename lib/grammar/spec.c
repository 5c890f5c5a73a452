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
 * A second pass (spec-check.c) then walks the finished chain and refuses what can never work,
 * modelling the runtime rules.
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
#include "spec-internal.h"
#include "spec.h"
#include "url.h"
#include "words.h"

/* Flags of @t; 0 for a type out of range. */
unsigned spec_type_flags(enum spec_word_type t)
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
	return spec_type_flags(t) & WORD_LINK;
}

bool spec_word_is_peer_hop(enum spec_word_type t)
{
	return spec_type_flags(t) & WORD_PEER;
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
			/* a new tail if the segment routes or balances (check_route() folds them
			 * otherwise) */
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

	r = spec_check(words, sp, meta, nseg, reterr);
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
			bool in_tail = w->tail || (spec_type_flags(w->type) & WORD_ROUTE);

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
