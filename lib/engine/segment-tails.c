/* SPDX-License-Identifier: MIT */
/*
 * segment-tails.c - a segment's tails: their text for list and logs, the pick of a balancing
 * segment (balance.h: least-loaded or round-robin, a failed tail down for
 * SEGMENT_TAIL_RETRY_USEC), and the routing of one that routes by server name (exact name, then
 * the longest "*.suffix", then the unnamed default)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "cleanup.h"
#include "endpoint.h"
#include "log.h"
#include "segment-internal.h"
#include "segment.h"
#include "tail.h"
#include "time-util.h"
#include "tls-sni.h"

char *segment_head_url(const struct segment *s, bool with_ns)
{
	return endpoint_url(&s->head, with_ns);
}

static char *tails_text(const struct segment *s, bool with_counts)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!s->tail_ready)
		return strdup("(on trigger)");
	if (s->route == SEGMENT_ROUTE_ONE)
		return endpoint_url(&s->tail.ep, true);
	/* "sni a.example=tcp://127.0.0.1:8443 sni *.b.example=tcp://... default=tcp://..." or
	 * "round-robin: tcp://127.0.0.1:8081, tcp://127.0.0.1:8082" */
	f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	if (s->route == SEGMENT_ROUTE_BALANCE)
		fputs(s->balance == SEGMENT_BALANCE_ROUND_ROBIN ? "round-robin: "
								: "least-loaded: ",
		      f);
	for (size_t k = 0; k < s->n_tails; k++) {
		const struct segment_tail *t = k == 0 ? &s->tail : &s->more_tails[k - 1];
		_cleanup_free_ char *url = endpoint_url(&t->ep, true);

		if (s->route == SEGMENT_ROUTE_BALANCE) {
			fprintf(f, "%s%s", k > 0 ? ", " : "", url ?: "?");
			if (with_counts)
				fprintf(f,
					" (%s, %" PRIu64 " active, %" PRIu64 " total, %" PRIu64
					" failed)",
					t->retry_usec ? "down" : "up", t->conns_active,
					t->conns_total, t->failures);
			continue;
		}
		if (k > 0)
			fputc(' ', f);
		if (t->n_names == 0)
			fputs("default", f);
		for (size_t i = 0; i < t->n_names; i++)
			fprintf(f, "%ssni %s", i ? " " : "", t->names[i]);
		fprintf(f, "=%s", url ?: "?");
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

char *segment_tail_url(const struct segment *s)
{
	return tails_text(s, false);
}

char *segment_tails_text(const struct segment *s)
{
	return tails_text(s, true);
}

static struct balance_cand tail_cand(size_t k, void *userdata)
{
	const struct segment_tail *t = segment_tail_nth(userdata, k);

	return (struct balance_cand){ .usable = true,
				      .down = t->ep.down,
				      .retry_usec = t->retry_usec,
				      .load = t->conns_active };
}

int segment_balance_pick(struct segment *s, uint32_t tried, uint64_t now)
{
	size_t n = s->n_tails < SEGMENT_BALANCE_TAILS_MAX ? s->n_tails : SEGMENT_BALANCE_TAILS_MAX;

	return balance_pick(s->balance, n, &s->balance_next, tried, now, tail_cand, s);
}

void segment_tail_failed(struct segment *s, struct segment_tail *t, int error)
{
	_cleanup_free_ char *url = endpoint_url(&t->ep, true);
	bool was_up = t->retry_usec == 0;

	t->failures++;
	t->retry_usec = now_usec() + SEGMENT_TAIL_RETRY_USEC;
	log_full_errno(was_up ? LOG_NOTICE : LOG_DEBUG, 0,
		       "segment '%s': tail %s %s: %s; new connections skip it for %llu s", s->id,
		       url ?: "?", was_up ? "is down" : "is still down", strerror(-error),
		       SEGMENT_TAIL_RETRY_USEC / USEC_PER_SEC);
}

void segment_tail_opened(struct segment *s, struct segment_tail *t)
{
	t->conns_total++;
	if (t->retry_usec) {
		_cleanup_free_ char *url = endpoint_url(&t->ep, true);

		t->retry_usec = 0;
		log_notice("segment '%s': tail %s is up again", s->id, url ?: "?");
	}
}

struct segment_tail *segment_tail_nth(struct segment *s, size_t k)
{
	if (k >= s->n_tails)
		return NULL;
	return k == 0 ? &s->tail : &s->more_tails[k - 1];
}

int segment_tail_add_name(struct segment *s, size_t k, const char *pattern)
{
	struct segment_tail *t = segment_tail_nth(s, k);
	char **names, *copy;

	if (!t)
		return -ERANGE;
	copy = strdup(pattern);
	if (!copy)
		return -ENOMEM;
	names = realloc(t->names, (t->n_names + 1) * sizeof(*names));
	if (!names) {
		free(copy);
		return -ENOMEM;
	}
	t->names = names;
	t->names[t->n_names++] = copy;
	s->route = SEGMENT_ROUTE_SNI;
	return 0;
}

struct segment_tail *segment_route_pick(struct segment *s, const char *name)
{
	struct segment_tail *best = NULL, *def = NULL;
	size_t best_score = 0;

	for (size_t k = 0; k < s->n_tails; k++) {
		struct segment_tail *t = segment_tail_nth(s, k);

		if (t->n_names == 0 && !def)
			def = t;
		for (size_t i = 0; name && i < t->n_names; i++) {
			size_t score = tls_sni_match(t->names[i], name);

			if (score > best_score) {
				best_score = score;
				best = t;
			}
		}
	}
	return best ?: def;
}

void segment_tail_done(struct segment_tail *t)
{
	endpoint_done(&t->ep);
	for (size_t i = 0; i < t->n_names; i++)
		free(t->names[i]);
	free(t->names);
	t->names = NULL;
	t->n_names = 0;
}
