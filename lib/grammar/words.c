/* SPDX-License-Identifier: MIT */
/*
 * words.c - the descriptor table of the chain-spec words, generated from WORDS() in words.h
 *
 * The argument checks here only wrap the parsers that own each syntax (url.c, docker-args.c,
 * spec_id_valid()) and discard what they parsed: spec_parse() keeps the argument as text, and the
 * daemon's word ops parse it again when they run. The messages carry no word name; spec.c puts
 * "word N 'NAME' argument 'ARG': " in front.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "docker-args.h"
#include "errmsg.h"
#include "spec.h"
#include "time-util.h"
#include "tls-sni.h"
#include "url.h"
#include "words.h"

static int words_check_url(const char *arg, char **reterr)
{
	struct url u = {};
	int r;

	r = url_parse(arg, &u, reterr);
	url_done(&u);
	return r;
}

static int words_check_container(const char *arg, char **reterr)
{
	if (!docker_ref_valid(arg))
		return ERRMSG_FAIL(reterr, "invalid container name or id");
	return 0;
}

static int words_check_docker_run(const char *arg, char **reterr)
{
	struct docker_run_args a = {};
	int r;

	r = docker_run_args_parse(arg, &a, reterr);
	docker_run_args_done(&a);
	return r;
}

static int words_check_sni(const char *arg, char **reterr)
{
	if (!tls_sni_pattern_valid(arg))
		return ERRMSG_FAIL(reterr, "not a server name (NAME or *.SUFFIX: letters, digits, "
					   "'-', '_', dots between labels, up to 253)");
	return 0;
}

/* HOST[:PORT], or several separated by ',' (providers of one `remote`) */
static int words_check_peer(const char *arg, char **reterr)
{
	_cleanup_free_ char *copy = strdup(arg);
	char *save = NULL;
	int r, n = 0;

	if (!copy)
		return -ENOMEM;
	for (char *h = strtok_r(copy, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
		struct peer_addr p = {};

		r = peer_addr_parse(h, false, &p, reterr);
		peer_addr_done(&p);
		if (r < 0)
			return r;
		n++;
	}
	return n > 0 ? 0 : ERRMSG_FAIL(reterr, "no host");
}

static int words_check_balance(const char *arg, char **reterr)
{
	if (strcmp(arg, "round-robin") == 0 || strcmp(arg, "least-loaded") == 0)
		return 0;
	return ERRMSG_FAIL(reterr, "'%s': expected round-robin or least-loaded", arg);
}

int words_idle_parse(const char *arg, uint64_t *ret_usec, bool *ret_keep, char **reterr)
{
	_cleanup_free_ char *dur = NULL;
	const char *comma = strchr(arg, ',');
	uint64_t usec;
	bool keep = false;

	if (comma) {
		if (strcmp(comma + 1, "keep") != 0)
			return ERRMSG_FAIL(reterr, "unknown option '%s' (only 'keep')", comma + 1);
		keep = true;
	}
	dur = comma ? strndup(arg, (size_t)(comma - arg)) : strdup(arg);
	if (!dur)
		return -ENOMEM;
	if (duration_parse(dur, &usec) < 0 || usec < USEC_PER_SEC ||
	    usec > 365 * 86400 * USEC_PER_SEC)
		return ERRMSG_FAIL(reterr,
				   "invalid duration '%s' (1s to 365d, e.g. 90s, 5m, 1h30m)", dur);
	*ret_usec = usec;
	*ret_keep = keep;
	return 0;
}

static int words_check_idle(const char *arg, char **reterr)
{
	uint64_t usec;
	bool keep;

	return words_idle_parse(arg, &usec, &keep, reterr);
}

static int words_check_id(const char *arg, char **reterr)
{
	if (!spec_id_valid(arg))
		return ERRMSG_FAIL(reterr,
				   "invalid id (1..%d characters of [A-Za-z0-9._-], not starting "
				   "with '-' or '.')",
				   SPEC_ID_MAX);
	return 0;
}

#define WORDS_TYPE_SPEC(id) SPEC_##id
#define WORDS_TYPE_KW(id)   -1
#define WORDS_GEN_DESC(cls, id, nm, arg, fl, chk, hlp) \
	{ .name = nm,                                  \
	  .argname = arg,                              \
	  .flags = fl,                                 \
	  .type = WORDS_TYPE_##cls(id),                \
	  .check = chk,                                \
	  .help = hlp },

const struct word_desc words_table[WORDS_N] = { WORDS(WORDS_GEN_DESC) };

/* ", url, docker-ns, ..., id": words_expected() skips the first separator. */
#define WORDS_GEN_LIST(cls, id, nm, ...) ", " nm
static const char words_list[] = WORDS(WORDS_GEN_LIST);

const struct word_desc *words_find(const char *name)
{
	for (size_t i = 0; i < WORDS_N; i++)
		if (strcmp(name, words_table[i].name) == 0)
			return &words_table[i];
	return NULL;
}

const struct word_desc *words_of_type(enum spec_word_type t)
{
	for (size_t i = 0; i < WORDS_N; i++)
		if (words_table[i].type >= 0 && words_table[i].type == (int)t)
			return &words_table[i];
	return NULL;
}

const struct word_desc *words_with(unsigned flags)
{
	for (size_t i = 0; i < WORDS_N; i++)
		if ((words_table[i].flags & flags) == flags)
			return &words_table[i];
	return NULL;
}

const char *words_expected(void)
{
	return words_list + 2;
}

/* Where the help text starts: "  docker-run ARGS" fits. */
#define WORDS_HELP_COLUMN 18

int words_help(char **ret)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < WORDS_N; i++) {
		const struct word_desc *d = &words_table[i];
		size_t w = 2 + strlen(d->name) + (d->argname ? 1 + strlen(d->argname) : 0);

		fprintf(f, "  %s%s%s%*s %s\n", d->name, d->argname ? " " : "", d->argname ?: "",
			w < WORDS_HELP_COLUMN ? (int)(WORDS_HELP_COLUMN - w) : 0, "", d->help);
	}
	if (fclose(f) != 0 || !text) {
		free(text);
		return -ENOMEM;
	}
	*ret = text;
	return 0;
}
