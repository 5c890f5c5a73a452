/* SPDX-License-Identifier: MIT */
/*
 * words.h - the one table of the chain-spec words: what each word is called, what argument it
 * takes, where it may stand, what it does to the chain, how its argument is checked, its help
 *
 * The parser (spec.c), its error messages ("expected url, docker-ns, ...") and `wormhole create
 * --help` are generated from this table; nothing else spells a word. Adding a word is one WORDS()
 * line here, one chains/<word>.c and its line in chains/chains.c, and their tests.
 *
 * Why an X-macro: the word's enum constant (SPEC_URL, used by chains/ and lib/engine to index
 * their ops) and its descriptor must not drift apart, and the enum has to be visible to callers
 * while the argument checks stay private to words.c. One list in the header generates both: the
 * enum spec_word_type from the SPEC lines (in list order, so SPEC_URL stays 0), the descriptor
 * table in words.c from every line. The KW lines are syntax (tail, trigger, id): they have a
 * descriptor, so the parser and the help treat them like any word, but no enum constant and no
 * ops. The list order is the order of the help text and of the "expected ..." message.
 *
 * Columns: class (SPEC or KW), enum suffix, name, argument name (NULL: none), flags, argument
 * check (a static function of words.c, NULL: any argument), one line of help.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define WORDS(X)                                                                                   \
	X(SPEC, URL,        "url",        "URL",  WORD_IN_ANY | WORD_MOD | WORD_EP_URL,            \
	  words_check_url,        "[tcp|udp://][ns@][host][:port], [v6]:port, or unix:///path")    \
	X(SPEC, DOCKER_NS,  "docker-ns",  "NAME", WORD_IN_ANY | WORD_MOD | WORD_EP_NS,             \
	  words_check_container,  "the head or tail lives in container NAME's netns")              \
	X(SPEC, DOCKER_RUN, "docker-run", "ARGS", WORD_IN_ANY | WORD_MOD | WORD_EP_NS,             \
	  words_check_docker_run, "start a container ('[flags] IMAGE [CMD...]', one word)")        \
	X(KW,   TAIL,       "tail",       NULL,   WORD_IN_ANY | WORD_TO_TAIL,                      \
	  NULL,                   "later words change the tail")                                   \
	X(KW,   TRIGGER,    "trigger",    NULL,   WORD_IN_ANY | WORD_TO_TRIG,                      \
	  NULL,                   "like tail, but the later words run on the first connection")    \
	X(SPEC, CHILD,      "child",      NULL,   WORD_IN_ANY | WORD_LINK,                         \
	  NULL,                   "a new segment whose head starts as this segment's tail")        \
	X(SPEC, CHAIN,      "chain",      NULL,   WORD_IN_ANY | WORD_LINK | WORD_JOIN,             \
	  NULL,                   "like child, and this segment's tail becomes the child's head")  \
	X(SPEC, REMOTE,     "remote",     "HOST", WORD_IN_ANY | WORD_LINK | WORD_JOIN | WORD_PEER, \
	  words_check_peer,       "the rest of the chain runs at HOST[:PORT] (H1,H2: providers)")  \
	X(SPEC, TUNNEL,     "tunnel",     "HOST", WORD_IN_ANY | WORD_LINK | WORD_JOIN | WORD_PEER, \
	  words_check_peer,       "like remote, over an IPsec tunnel")                             \
	X(SPEC, UDPTUNNEL,  "udptunnel",  "HOST", WORD_IN_ANY | WORD_LINK | WORD_JOIN | WORD_PEER, \
	  words_check_peer,       "like tunnel, over ESP-in-UDP")                                  \
	X(SPEC, IDLE,       "idle",       "TIME", WORD_IN_ANY | WORD_SEG | WORD_NEEDS_TRIG,        \
	  words_check_idle,       "undo the trigger after TIME without connections (5m[,keep])")   \
	X(SPEC, SNI,        "sni",        "NAME", WORD_IN_TAIL | WORD_ROUTE,                       \
	  words_check_sni,        "this tail serves TLS server name NAME or *.SUFFIX (routing)")    \
	X(SPEC, BALANCE,    "balance",    "MODE", WORD_IN_ANY | WORD_SEG | WORD_BALANCE,           \
	  words_check_balance,    "several tails or providers: least-loaded (default), round-robin")\
	X(SPEC, PROXY_PROTOCOL, "proxy-protocol", NULL, WORD_IN_TAIL | WORD_IN_TRIG | WORD_SEG,  \
	  NULL,                   "send a PROXY v2 header with the client's address to the tail")  \
	X(KW,   ID,         "id",         "NAME", WORD_IN_ANY | WORD_SPEC_ID,                      \
	  words_check_id,         "name the top segment ([A-Za-z0-9._-], up to 64)")
/* clang-format on */

enum word_flag {
	WORD_IN_HEAD = 1u << 0, /* may stand before `tail`/`trigger` (and right after a link) */
	WORD_IN_TAIL = 1u << 1, /* may stand after `tail` */
	WORD_IN_TRIG = 1u << 2, /* may stand after `trigger` */
	WORD_IN_ANY = WORD_IN_HEAD | WORD_IN_TAIL | WORD_IN_TRIG,
	WORD_MOD = 1u << 3,	 /* changes the head, or the tail after `tail`/`trigger` */
	WORD_EP_URL = 1u << 4,	 /* its argument is a segment URL (proto, netns, address) */
	WORD_EP_NS = 1u << 5,	 /* puts the endpoint into a container's network namespace */
	WORD_LINK = 1u << 6,	 /* ends this segment's words and opens the next segment */
	WORD_JOIN = 1u << 7,	 /* link: this segment's tail becomes the next segment's head */
	WORD_PEER = 1u << 8,	 /* link: the next segment runs on a peer daemon (a peer hop) */
	WORD_TO_TAIL = 1u << 9,	 /* keyword: later words change the tail */
	WORD_TO_TRIG = 1u << 10, /* keyword: later words run on the first inbound connection */
	WORD_SPEC_ID = 1u << 11, /* keyword: names the top segment; belongs to no segment */
	WORD_SEG = 1u << 12,	 /* a segment option: runs at creation wherever it stands, once */
	WORD_NEEDS_TRIG = 1u << 13, /* only in a segment that has trigger words */
	WORD_ROUTE = 1u << 14,	 /* labels its tail: each `tail` of the segment opens a new tail */
	WORD_BALANCE = 1u << 15, /* spreads connections: in a segment without a link word, each
				  * `tail` opens a new tail */
};

#define WORDS_GEN_ENUM_SPEC(id) SPEC_##id,
#define WORDS_GEN_ENUM_KW(id)
#define WORDS_GEN_ENUM(cls, id, ...) WORDS_GEN_ENUM_##cls(id)

enum spec_word_type {
	WORDS(WORDS_GEN_ENUM) _SPEC_WORD_TYPE_MAX,
};

#define WORDS_GEN_COUNT(...) +1

/* Lines in the table: spec words and keywords. */
enum { WORDS_N = 0 WORDS(WORDS_GEN_COUNT) };

struct word_desc {
	const char *name;    /* the keyword: "docker-ns" */
	const char *argname; /* how the argument is shown ("URL"); NULL: the word takes none */
	unsigned flags;	     /* enum word_flag */
	int type;	     /* enum spec_word_type; -1 for a keyword (tail, trigger, id) */
	/* Syntax of the argument only. On -EINVAL, *reterr (may be NULL) is a malloc'ed message
	 * without the word's name ("invalid port '0'"). Return: 0, -EINVAL, -ENOMEM */
	int (*check)(const char *arg, char **reterr);
	const char *help; /* one line, for `wormhole create --help` */
};

/**
 * words_table - every word, in the order of WORDS(): WORDS_N lines (static, never freed)
 */
extern const struct word_desc words_table[WORDS_N];

/**
 * words_find() - Look a word up by its name
 * @name:	a create word (borrowed)
 *
 * Return: its descriptor (static), NULL if @name is no word
 */
const struct word_desc *words_find(const char *name);

/**
 * words_of_type() - Return: the descriptor (static) of @t, NULL if @t is out of range
 */
const struct word_desc *words_of_type(enum spec_word_type t);

/**
 * words_with() - Return: the first descriptor (static) that has every flag in @flags, NULL if
 * none (words_with(WORD_TO_TAIL)->name is "tail")
 */
const struct word_desc *words_with(unsigned flags);

/**
 * words_expected() - Return: every word, comma-separated, in table order (static string):
 * "url, docker-ns, docker-run, tail, trigger, child, chain, remote, tunnel, udptunnel, idle, sni, id"
 */
const char *words_expected(void);

/**
 * words_idle_parse() - The argument of `idle`: DURATION (time-util.h) [",keep"]
 * @ret_usec:	the idle limit, > 0
 * @ret_keep:	",keep": stop what the trigger started and keep it, instead of removing it
 * @reterr:	on -EINVAL, a malloc'ed message (may be NULL)
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int words_idle_parse(const char *arg, uint64_t *ret_usec, bool *ret_keep, char **reterr);

/**
 * words_help() - The help lines of every word, "  NAME ARG         help\n" each
 * @ret:	the text on success only, malloc'ed; the caller frees it
 *
 * Return: 0, -ENOMEM
 */
int words_help(char **ret);
