/* SPDX-License-Identifier: MIT */
/*
 * fuzz-spec.c - libFuzzer entry point for the chain-spec parsers
 *
 * The input is split on NUL and newline into create words (empty words kept) and given to
 * spec_parse(); each word also goes through url_parse(), peer_addr_parse() and
 * docker_run_args_parse(), and the whole input (up to its first NUL) through
 * docker_run_args_parse() once more. A spec that parses must survive spec_seg_to_words() and parse
 * again to the same words, or the target aborts. Built with fuzz-replay.c it replays a corpus as
 * a test; with clang: -fsanitize=fuzzer,address (see meson.build).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "docker-args.h"
#include "spec.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_WORDS_MAX 4096

static void words_check(char *const *words)
{
	for (size_t i = 0; words[i]; i++) {
		struct url u = {};
		struct peer_addr a = {};
		struct docker_run_args d = {};
		char *err = NULL;

		if (url_parse(words[i], &u, &err) == 0)
			url_done(&u);
		free(err);
		err = NULL;
		if (peer_addr_parse(words[i], i % 2, &a, &err) == 0)
			peer_addr_done(&a);
		free(err);
		err = NULL;
		if (docker_run_args_parse(words[i], &d, &err) == 0)
			docker_run_args_done(&d);
		free(err);
		(void)netns_name_valid(words[i]);
		(void)docker_ref_valid(words[i]);
		(void)spec_id_valid(words[i]);
	}
}

static bool strv_equal(char **a, char **b)
{
	size_t i;

	for (i = 0; a[i] && b[i]; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return !a[i] && !b[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ char **words = NULL;
	_cleanup_(spec_freep) struct spec *sp = NULL, *sp2 = NULL;
	_cleanup_(strv_freep) char **w1 = NULL, **w2 = NULL;
	_cleanup_free_ char *err = NULL, *err2 = NULL;
	struct docker_run_args d = {};
	size_t n = 0;

	buf = malloc(size + 1);
	words = calloc(FUZZ_WORDS_MAX + 1, sizeof(char *));
	if (!buf || !words)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';

	if (docker_run_args_parse(buf, &d, &err) == 0)
		docker_run_args_done(&d);
	free(err);
	err = NULL;

	if (size > 0) {
		words[n++] = buf;
		for (size_t i = 0; i < size && n < FUZZ_WORDS_MAX; i++)
			if (buf[i] == '\0' || buf[i] == '\n') {
				buf[i] = '\0';
				words[n++] = buf + i + 1;
			}
	}
	words_check(words);

	if (spec_parse(words, &sp, &err) < 0)
		return 0;
	if (spec_seg_to_words(sp->top, &w1) < 0)
		return 0;
	if (spec_parse(w1, &sp2, &err2) < 0) {
		if (!err2)
			return 0;
		abort(); /* a valid spec must serialize into a valid spec */
	}
	if (spec_seg_to_words(sp2->top, &w2) < 0)
		return 0;
	if (!strv_equal(w1, w2))
		abort();
	return 0;
}
