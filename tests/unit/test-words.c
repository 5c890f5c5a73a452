/* SPDX-License-Identifier: MIT */
/*
 * test-words.c - the table of chain-spec words (words.h) holds together
 *
 * What the parser relies on: every enum spec_word_type has exactly one line, names are unique,
 * the flags do not contradict each other (a link is no modifier, a peer hop is a link, a keyword
 * is no spec word), a word with an argument can be checked, and the generated texts (the
 * "expected ..." list, the help) name every word.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cleanup.h"
#include "spec.h"
#include "words.h"

static void test_every_type_has_one_line(void **state)
{
	for (unsigned t = 0; t < _SPEC_WORD_TYPE_MAX; t++) {
		const struct word_desc *d = words_of_type((enum spec_word_type)t);
		unsigned n = 0;

		assert_non_null(d);
		assert_non_null(d->name);
		assert_true(d->name[0] != '\0');
		assert_int_equal(d->type, (int)t);
		assert_string_equal(spec_word_name((enum spec_word_type)t), d->name);
		for (size_t i = 0; i < WORDS_N; i++)
			n += words_table[i].type == (int)t;
		assert_int_equal(n, 1);
	}
	assert_null(words_of_type(_SPEC_WORD_TYPE_MAX));
	assert_string_equal(spec_word_name(_SPEC_WORD_TYPE_MAX), "?");
}

static void test_names_unique_and_found(void **state)
{
	for (size_t i = 0; i < WORDS_N; i++) {
		assert_non_null(words_table[i].name);
		assert_ptr_equal(words_find(words_table[i].name), &words_table[i]);
		for (size_t j = i + 1; j < WORDS_N; j++)
			assert_string_not_equal(words_table[i].name, words_table[j].name);
	}
	assert_null(words_find("tial"));
	assert_null(words_find(""));
	assert_null(words_find("URL"));
}

static void test_flags_consistent(void **state)
{
	unsigned to_tail = 0, to_trig = 0, spec_id = 0;

	for (size_t i = 0; i < WORDS_N; i++) {
		const struct word_desc *d = &words_table[i];
		unsigned f = d->flags;
		bool kw = f & (WORD_TO_TAIL | WORD_TO_TRIG | WORD_SPEC_ID);

		/* somewhere to stand */
		assert_true(f & WORD_IN_ANY);
		/* a link carries no tail flag: it is no modifier */
		if (f & WORD_LINK)
			assert_false(f & (WORD_MOD | WORD_EP_URL | WORD_EP_NS));
		/* join and peer describe links only */
		if (f & (WORD_JOIN | WORD_PEER))
			assert_true(f & WORD_LINK);
		/* what a modifier says about its endpoint, only modifiers say */
		if (f & (WORD_EP_URL | WORD_EP_NS))
			assert_true(f & WORD_MOD);
		/* a keyword is syntax: no enum constant, not a link or a modifier */
		assert_int_equal(kw, d->type < 0);
		if (kw)
			assert_false(f & (WORD_MOD | WORD_LINK));
		else
			assert_true(f & (WORD_MOD | WORD_LINK | WORD_SEG | WORD_ROUTE));
		/* a routing label names its tail: only after `tail`, no modifier, no link */
		if (f & WORD_ROUTE)
			assert_true((f & WORD_IN_ANY) == WORD_IN_TAIL &&
				    !(f & (WORD_MOD | WORD_LINK | WORD_SEG)));
		/* a segment option is neither a modifier nor a link; needing a trigger is one */
		if (f & WORD_SEG)
			assert_false(f & (WORD_MOD | WORD_LINK));
		if (f & WORD_NEEDS_TRIG)
			assert_true(f & WORD_SEG);
		/* a word with an argument has a check and a name for it in messages, and back */
		assert_int_equal(!!d->argname, !!d->check);
		assert_non_null(d->help);
		assert_null(strchr(d->help, '\n'));
		to_tail += !!(f & WORD_TO_TAIL);
		to_trig += !!(f & WORD_TO_TRIG);
		spec_id += !!(f & WORD_SPEC_ID);
	}
	assert_int_equal(to_tail, 1);
	assert_int_equal(to_trig, 1);
	assert_int_equal(spec_id, 1);
	assert_string_equal(words_with(WORD_TO_TAIL)->name, "tail");
	assert_string_equal(words_with(WORD_TO_TRIG)->name, "trigger");
	assert_null(words_with(WORD_LINK | WORD_MOD));
}

static void test_link_helpers_follow_table(void **state)
{
	for (unsigned t = 0; t < _SPEC_WORD_TYPE_MAX; t++) {
		unsigned f = words_of_type((enum spec_word_type)t)->flags;

		assert_int_equal(spec_word_is_link((enum spec_word_type)t), !!(f & WORD_LINK));
		assert_int_equal(spec_word_is_peer_hop((enum spec_word_type)t), !!(f & WORD_PEER));
	}
	assert_true(spec_word_is_peer_hop(SPEC_REMOTE));
	assert_false(spec_word_is_peer_hop(SPEC_CHAIN));
	assert_false(spec_word_is_link(_SPEC_WORD_TYPE_MAX));
}

static void test_expected_lists_every_word(void **state)
{
	const char *list = words_expected();
	_cleanup_free_ char *built = NULL;
	size_t len = 0;

	/* the text of the README and the tests, in table order */
	assert_string_equal(list,
			    "url, docker-ns, docker-run, tail, trigger, child, chain, remote, "
			    "tunnel, udptunnel, idle, sni, balance, proxy-protocol, id");
	for (size_t i = 0; i < WORDS_N; i++)
		len += strlen(words_table[i].name) + 2;
	built = calloc(1, len + 1);
	assert_non_null(built);
	for (size_t i = 0; i < WORDS_N; i++) {
		if (i)
			strcat(built, ", ");
		strcat(built, words_table[i].name);
	}
	assert_string_equal(list, built);
}

static void test_unknown_word_message(void **state)
{
	char w1[] = "url", w2[] = ":9000", w3[] = "tial", w4[] = "url", w5[] = ":9001";
	char *words[] = { w1, w2, w3, w4, w5, NULL };
	_cleanup_(spec_freep) struct spec *sp = NULL;
	_cleanup_free_ char *err = NULL;

	assert_int_equal(spec_parse(words, &sp, &err), -EINVAL);
	assert_non_null(err);
	for (size_t i = 0; i < WORDS_N; i++)
		assert_non_null(strstr(err, words_table[i].name));
	assert_non_null(strstr(err, words_expected()));
}

static void test_help_names_every_word(void **state)
{
	_cleanup_free_ char *help = NULL;
	const char *p;

	assert_int_equal(words_help(&help), 0);
	p = help;
	/* one line per word, in table order: "  NAME[ ARG]   help" */
	for (size_t i = 0; i < WORDS_N; i++) {
		const struct word_desc *d = &words_table[i];
		const char *nl = strchr(p, '\n');
		size_t n = strlen(d->name);

		assert_non_null(nl);
		assert_memory_equal(p, "  ", 2);
		assert_memory_equal(p + 2, d->name, n);
		if (d->argname) {
			assert_int_equal(p[2 + n], ' ');
			assert_memory_equal(p + 3 + n, d->argname, strlen(d->argname));
		}
		assert_non_null(strstr(p, d->help));
		assert_true(strstr(p, d->help) < nl);
		p = nl + 1;
	}
	assert_int_equal(*p, '\0');
}

/* Each argument check is the table's: a bad argument is refused with the check's message. */
static void test_checks_reject(void **state)
{
	static const struct {
		const char *word, *arg, *msg;
	} cases[] = {
		{ "url", ":0", "invalid port '0'" },
		{ "docker-ns", "-x", "invalid container name or id" },
		{ "docker-run", "--privileged img", "unsupported docker-run flag '--privileged'" },
		{ "remote", "unix:///x", "a unix socket is not a peer address" },
		{ "id", "a b", "invalid id" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct word_desc *d = words_find(cases[i].word);
		_cleanup_free_ char *err = NULL;

		assert_non_null(d);
		assert_non_null(d->check);
		assert_int_equal(d->check(cases[i].arg, &err), -EINVAL);
		assert_non_null(err);
		assert_non_null(strstr(err, cases[i].msg));
		assert_int_equal(d->check(cases[i].arg, NULL), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_has_one_line),
		cmocka_unit_test(test_names_unique_and_found),
		cmocka_unit_test(test_flags_consistent),
		cmocka_unit_test(test_link_helpers_follow_table),
		cmocka_unit_test(test_expected_lists_every_word),
		cmocka_unit_test(test_unknown_word_message),
		cmocka_unit_test(test_help_names_every_word),
		cmocka_unit_test(test_checks_reject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
