/* SPDX-License-Identifier: MIT */
/*
 * key-rules.c - parse and check the rules of a scoped peer key (key-rules.h)
 *
 * A create is checked word by word over the segments made on this daemon: the top segment's
 * head port, every docker-run and docker-ns, and the host of every `remote` word (what comes
 * after a `remote` is made by that daemon, which checks it against its own keys).
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "errmsg.h"
#include "key-rules.h"
#include "spec.h"
#include "url.h"

#define MAX_RANGES 32

/* Replace *@reterr (the old message is freed) and return @r (-ENOMEM without memory). */
static int rules_fail(char **reterr, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int rules_fail(char **reterr, int r, const char *fmt, ...)
{
	char *m = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	if (!m)
		return -ENOMEM;
	free(*reterr);
	*reterr = m;
	return r;
}

#define rules_fail_deny(reterr, ...) rules_fail(reterr, -EPERM, __VA_ARGS__)

struct key_rules {
	char *port_rule; /* the rule's text, for refusals */
	uint16_t lo[MAX_RANGES], hi[MAX_RANGES];
	unsigned n_ranges;
	char *remote_rule;
	bool remote_self, remote_none;
	char **remote_names;
	bool no_docker_run;
	char *container;
	bool read_only;
	char *name;
};

struct key_rules *key_rules_free(struct key_rules *kr)
{
	if (!kr)
		return NULL;
	free(kr->port_rule);
	free(kr->remote_rule);
	strv_free(kr->remote_names);
	free(kr->container);
	free(kr->name);
	free(kr);
	return NULL;
}

void key_rules_freep(struct key_rules **kr)
{
	*kr = key_rules_free(*kr);
}

static int parse_ports(struct key_rules *kr, const char *list, char **reterr)
{
	_cleanup_free_ char *copy = strdup(list);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned long a, b;
		char *end;

		if (kr->n_ranges == MAX_RANGES)
			return rules_fail(reterr, -EINVAL, "rule 'port=%s': at most %d ranges",
					  list, MAX_RANGES);
		a = strtoul(t, &end, 10);
		b = a;
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		if (*end || a == 0 || a > 65535 || b < a || b > 65535)
			return rules_fail(reterr, -EINVAL,
					  "rule 'port=%s': '%s' is not a port or a range", list, t);
		kr->lo[kr->n_ranges] = (uint16_t)a;
		kr->hi[kr->n_ranges++] = (uint16_t)b;
	}
	return 0;
}

static int parse_one(struct key_rules *kr, const char *rule, char **reterr)
{
	const char *eq = strchr(rule, '=');
	const char *v = eq ? eq + 1 : "";
	size_t kl = eq ? (size_t)(eq - rule) : strlen(rule);
	int r;

#define IS(k) (kl == strlen(k) && strncmp(rule, k, kl) == 0)
	if (IS("port") && eq && *v) {
		if (kr->port_rule)
			return rules_fail(reterr, -EINVAL, "rule 'port' given twice");
		kr->port_rule = strdup(rule);
		if (!kr->port_rule)
			return -ENOMEM;
		return parse_ports(kr, v, reterr);
	}
	if (IS("remote") && eq && *v) {
		_cleanup_free_ char *copy = strdup(v);
		char *save = NULL;
		size_t n = 0;

		if (!copy || !(kr->remote_rule = strdup(rule)))
			return -ENOMEM;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (strcmp(t, "self") == 0)
				kr->remote_self = true;
			else if (strcmp(t, "none") == 0)
				kr->remote_none = true;
			else {
				r = strv_push_dup(&kr->remote_names, &n, t);
				if (r < 0)
					return r;
			}
		}
		return 0;
	}
	if (IS("no-docker-run") && !eq) {
		kr->no_docker_run = true;
		return 0;
	}
	if (IS("container") && eq && *v) {
		kr->container = strdup(v);
		return kr->container ? 0 : -ENOMEM;
	}
	if (IS("read-only") && !eq) {
		kr->read_only = true;
		return 0;
	}
	if (IS("name") && eq && *v) {
		kr->name = strdup(v);
		return kr->name ? 0 : -ENOMEM;
	}
#undef IS
	return rules_fail(reterr, -EINVAL,
			  "rule '%s': unknown (expected port=LIST, remote=self|none|NAME,..., "
			  "no-docker-run, container=PATTERN, read-only, name=PATTERN)",
			  rule);
}

int key_rules_parse(const char *text, struct key_rules **ret, char **reterr)
{
	_cleanup_(key_rules_freep) struct key_rules *kr = NULL;
	_cleanup_free_ char *copy = strdup(text ?: "");
	char *save = NULL;
	int r;

	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, " \t;", &save); t; t = strtok_r(NULL, " \t;", &save)) {
		if (!kr) {
			kr = calloc(1, sizeof(*kr));
			if (!kr)
				return -ENOMEM;
		}
		r = parse_one(kr, t, reterr);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(kr);
	return 0;
}

static bool port_allowed(const struct key_rules *kr, uint16_t port)
{
	for (unsigned i = 0; i < kr->n_ranges; i++)
		if (port >= kr->lo[i] && port <= kr->hi[i])
			return true;
	return false;
}

/* The container a docker-run ARGS names with --name (NULL: none), malloc'ed in *ret. */
static int docker_run_name(const char *args, char **ret)
{
	const char *p = strstr(args, "--name");

	*ret = NULL;
	if (!p)
		return 0;
	p += 6;
	if (*p != '=' && *p != ' ')
		return 0;
	p += strspn(p, "= ");
	*ret = strndup(p, strcspn(p, " "));
	return *ret ? 0 : -ENOMEM;
}

struct check {
	const struct key_rules *kr;
	bool (*remote_self)(const char *host, void *userdata);
	void *userdata;
	char **reterr;
};

static int check_words(struct check *c, const struct spec_word *w, size_t n);

static int check_seg(struct check *c, const struct spec_seg *seg)
{
	int r = check_words(c, seg->init, seg->n_init);

	return r < 0 ? r : check_words(c, seg->trig, seg->n_trig);
}

static int check_words(struct check *c, const struct spec_word *w, size_t n)
{
	const struct key_rules *kr = c->kr;
	int r;

	for (size_t i = 0; i < n; i++) {
		const char *name = spec_word_name(w[i].type);

		if (w[i].type == SPEC_DOCKER_RUN && kr->no_docker_run)
			return rules_fail_deny(c->reterr,
					       "refused by rule 'no-docker-run': word %u '%s'",
					       w[i].pos, name);
		if (kr->container &&
		    (w[i].type == SPEC_DOCKER_RUN || w[i].type == SPEC_DOCKER_NS)) {
			_cleanup_free_ char *cn = NULL;

			if (w[i].type == SPEC_DOCKER_NS)
				cn = strdup(w[i].arg);
			else if (docker_run_name(w[i].arg, &cn) < 0)
				return -ENOMEM;
			if (!cn || fnmatch(kr->container, cn, 0) != 0)
				return rules_fail_deny(
					c->reterr,
					"refused by rule 'container=%s': word %u '%s' names %s%s%s",
					kr->container, w[i].pos, name, cn ? "'" : "no container",
					cn ?: "", cn ? "'" : "");
		}
		if (w[i].type == SPEC_REMOTE && kr->remote_rule) {
			_cleanup_free_ char *hosts = strdup(w[i].arg);
			char *save = NULL;
			bool ok = hosts != NULL;

			for (char *one = hosts ? strtok_r(hosts, ",", &save) : NULL; one && ok;
			     one = strtok_r(NULL, ",", &save)) {
				bool this = false;

				for (char **h = kr->remote_names; h && *h && !this; h++)
					this = strcmp(*h, one) == 0;
				if (!this && kr->remote_self && c->remote_self)
					this = c->remote_self(one, c->userdata);
				ok = this;
			}
			if (!ok)
				return rules_fail_deny(
					c->reterr, "refused by rule '%s': word %u 'remote %s'%s",
					kr->remote_rule, w[i].pos, w[i].arg,
					kr->remote_self ? " is not a daemon linked with this key"
							: "");
			continue; /* its words are that daemon's to check */
		}
		if (w[i].child && !spec_word_is_peer_hop(w[i].type)) {
			r = check_seg(c, w[i].child);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* The port the top segment's head listens on: its last head `url`, 0 when none gives one. */
static uint16_t head_port(const struct spec_seg *top)
{
	uint16_t port = 0;

	for (size_t i = 0; i < top->n_init; i++) {
		struct url u = { 0 };
		_cleanup_free_ char *err = NULL;

		if (top->init[i].type != SPEC_URL || top->init[i].tail)
			continue;
		if (url_parse(top->init[i].arg, &u, &err) >= 0)
			port = u.port;
		url_done(&u);
	}
	return port;
}

int key_rules_check_create(const struct key_rules *kr, const struct spec *sp, bool peer_head,
			   bool (*remote_self)(const char *host, void *userdata), void *userdata,
			   char **reterr)
{
	struct check c = { kr, remote_self, userdata, reterr };

	if (!kr)
		return 0;
	if (kr->read_only)
		return rules_fail_deny(reterr, "refused by rule 'read-only': create");
	if (kr->port_rule && !peer_head) {
		uint16_t port = head_port(sp->top);

		if (!port || !port_allowed(kr, port))
			return rules_fail_deny(reterr,
					       "refused by rule '%s': the head is on %s%.0u",
					       kr->port_rule, port ? "port " : "an ephemeral port",
					       (unsigned)port);
	}
	return check_seg(&c, sp->top);
}

int key_rules_check_op(const struct key_rules *kr, const char *op, uint16_t port, const char *name,
		       char **reterr)
{
	if (!kr)
		return 0;
	if (strcmp(op, "link") == 0 || strcmp(op, "unlink") == 0 || strncmp(op, "tunnel-", 7) == 0)
		return rules_fail_deny(reterr, "a scoped key cannot %s", op);
	if (kr->read_only && strcmp(op, "list") != 0 && strcmp(op, "ping") != 0 &&
	    strcmp(op, "version") != 0)
		return rules_fail_deny(reterr, "refused by rule 'read-only': %s", op);
	if (strcmp(op, "delete") == 0 && kr->port_rule && (!port || !port_allowed(kr, port)))
		return rules_fail_deny(reterr,
				       "refused by rule '%s': that segment is not on an allowed "
				       "port",
				       kr->port_rule);
	if (strcmp(op, "hello") == 0 && kr->name && name && fnmatch(kr->name, name, 0) != 0)
		return rules_fail_deny(reterr, "refused by rule 'name=%s': '%s'", kr->name, name);
	return 0;
}
