/* SPDX-License-Identifier: MIT */
/*
 * docker-args.c - split and parse the argument of `docker-run`
 *
 * Two steps. shell_split() cuts the word like a POSIX shell would, without any expansion: blanks
 * separate words, '...' is literal, "..." honours \\ \" \$ \` and backslash-newline, and a bare
 * backslash quotes the next character. Then the words are read as `docker run` (pflag) reads them:
 * flags until the first non-flag word or "--", that word is the image, and everything after it is
 * the command, even if it looks like a flag. Only the flags wormhole maps to the Engine API are
 * accepted; any other is an error naming it, so nothing a user asked for is silently dropped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "docker-args.h"
#include "errmsg.h"
#include "strv.h"

#define DOCKER_REF_MAX 128
#define IMAGE_REF_MAX  512

#define fail	       ERRMSG_FAIL

struct buf {
	char *p;
	size_t n, cap;
};

static int buf_putc(struct buf *b, char c)
{
	if (b->n + 1 >= b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 32;
		char *p = realloc(b->p, cap);

		if (!p)
			return -ENOMEM;
		/* Zeroed, so no byte past the terminator is ever uninitialized (clang's analyzer
		 * does not tie strlen() to the contents and would read them). */
		memset(p + b->cap, 0, cap - b->cap);
		b->p = p;
		b->cap = cap;
	}
	b->p[b->n++] = c;
	b->p[b->n] = '\0';
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* POSIX-shell word splitting without expansions. */
static int shell_split(const char *s, char ***ret, char **reterr)
{
	_cleanup_(strv_freep) char **l = NULL;
	_cleanup_free_ char *word = NULL;
	struct buf b = {};
	bool in_word = false; /* also true for an empty quoted word ('') */
	size_t n = 0;
	int r = 0;

	for (const char *p = s;; p++) {
		char c = *p;

		if (c == '\0' || is_blank(c)) {
			if (in_word) {
				word = b.p ? TAKE_PTR(b.p) : strdup("");
				b = (struct buf){};
				if (!word)
					return -ENOMEM;
				r = strv_push(&l, &n, TAKE_PTR(word)); /* frees it on failure */
				if (r < 0)
					return r;
				in_word = false;
			}
			if (c == '\0')
				break;
			continue;
		}
		if (c == '\\' && p[1] == '\n') {
			p++; /* line continuation: removed, does not start a word */
			continue;
		}
		in_word = true;
		if (c == '\'') {
			const char *end = strchr(p + 1, '\'');

			if (!end) {
				r = fail(reterr, "unterminated quote");
				goto out;
			}
			for (p++; p < end; p++)
				if (buf_putc(&b, *p) < 0)
					goto oom;
			continue;
		}
		if (c == '"') {
			for (p++;; p++) {
				if (*p == '\0') {
					r = fail(reterr, "unterminated quote");
					goto out;
				}
				if (*p == '"')
					break;
				if (*p == '\\' && p[1] == '\n') {
					p++;
					continue;
				}
				if (*p == '\\' &&
				    (p[1] == '\\' || p[1] == '"' || p[1] == '$' || p[1] == '`'))
					p++;
				if (buf_putc(&b, *p) < 0)
					goto oom;
			}
			continue;
		}
		if (c == '\\') {
			if (p[1] == '\0') {
				r = fail(reterr, "trailing backslash");
				goto out;
			}
			p++;
			c = *p;
		}
		if (buf_putc(&b, c) < 0)
			goto oom;
	}
	if (!l) {
		l = calloc(1, sizeof(char *));
		if (!l)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(l);
	return 0;
oom:
	r = -ENOMEM;
out:
	free(b.p);
	return r;
}

static bool char_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool docker_ref_valid(const char *s)
{
	size_t n;

	if (!s)
		return false;
	if (s[0] == '/')
		s++;
	n = strlen(s);
	if (n < 1 || n > DOCKER_REF_MAX || !char_is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!char_is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/* docker's own rule for --name: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
static bool container_name_valid(const char *s)
{
	return strlen(s) >= 2 && docker_ref_valid(s) && s[0] != '/';
}

static bool image_path_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-' || c == '/';
}

/*
 * An image reference: [registry[:port]/]path[:tag][@algo:hex]. Paths are lowercase (docker refuses
 * "repository name must be lowercase"); tags and the registry host may use uppercase.
 */
static int image_check(const char *img, char **reterr)
{
	const char *at, *slash, *colon, *path, *end;
	size_t n = strlen(img);

	if (n == 0)
		return fail(reterr, "missing image");
	if (n > IMAGE_REF_MAX)
		return fail(reterr, "image reference is too long");
	at = strchr(img, '@');
	end = at ? at : img + n;
	if (at) {
		const char *dc = strchr(at + 1, ':');

		if (!dc || dc == at + 1 || strlen(dc + 1) < 32)
			return fail(reterr, "invalid image '%s': bad digest", img);
		for (const char *p = at + 1; p < dc; p++)
			if (!char_is_alnum(*p) && !strchr("+._-", *p))
				return fail(reterr, "invalid image '%s': bad digest", img);
		for (const char *p = dc + 1; *p; p++)
			if (!strchr("0123456789abcdefABCDEF", *p))
				return fail(reterr, "invalid image '%s': bad digest", img);
	}
	/* tag: after the last ':' that follows the last '/' */
	slash = memrchr(img, '/', (size_t)(end - img));
	colon = memrchr(slash ? slash : img, ':', (size_t)(end - (slash ? slash : img)));
	if (colon) {
		size_t tl = (size_t)(end - colon - 1);

		if (tl < 1 || tl > 128 || !(char_is_alnum(colon[1]) || colon[1] == '_'))
			return fail(reterr, "invalid image '%s': bad tag", img);
		for (const char *p = colon + 1; p < end; p++)
			if (!char_is_alnum(*p) && !strchr("_.-", *p))
				return fail(reterr, "invalid image '%s': bad tag", img);
		end = colon;
	}
	path = img;
	/* A first component with '.' or ':' or "localhost" is a registry host. */
	slash = memchr(img, '/', (size_t)(end - img));
	if (slash) {
		size_t hl = (size_t)(slash - img);

		if (memchr(img, '.', hl) || memchr(img, ':', hl) ||
		    (hl == 9 && strncmp(img, "localhost", 9) == 0)) {
			const char *pc = memchr(img, ':', hl);

			if (hl == 0)
				return fail(reterr, "invalid image '%s'", img);
			for (const char *p = img; p < (pc ? pc : slash); p++)
				if (!char_is_alnum(*p) && !strchr(".-", *p))
					return fail(reterr, "invalid image '%s': bad registry",
						    img);
			if (pc && (pc + 1 == slash || pc == img))
				return fail(reterr, "invalid image '%s': bad registry", img);
			for (const char *p = pc ? pc + 1 : slash; p < slash; p++)
				if (*p < '0' || *p > '9')
					return fail(reterr, "invalid image '%s': bad registry port",
						    img);
			path = slash + 1;
		}
	}
	if (path >= end)
		return fail(reterr, "invalid image '%s'", img);
	for (const char *p = path; p < end; p++) {
		if (*p >= 'A' && *p <= 'Z')
			return fail(reterr,
				    "invalid image '%s': repository names must be lowercase", img);
		if (!image_path_char(*p))
			return fail(reterr, "invalid image '%s'", img);
	}
	if (!char_is_alnum(path[0]) || !char_is_alnum(end[-1]) || strstr(path, "//"))
		return fail(reterr, "invalid image '%s'", img);
	return 0;
}

enum flag_kind {
	FLAG_NAME,
	FLAG_ENV,
	FLAG_VOLUME,
	FLAG_LABEL,
	FLAG_WORKDIR,
	FLAG_USER,
	FLAG_ENTRYPOINT,
	FLAG_NETWORK,
	FLAG_INIT,
	FLAG_RM,
};

static const struct flag {
	const char *lng; /* without "--" */
	char shrt;	 /* 0 if none */
	bool takes_value;
	enum flag_kind kind;
} flags[] = {
	{ "name", 0, true, FLAG_NAME },
	{ "env", 'e', true, FLAG_ENV },
	{ "volume", 'v', true, FLAG_VOLUME },
	{ "label", 'l', true, FLAG_LABEL },
	{ "workdir", 'w', true, FLAG_WORKDIR },
	{ "user", 'u', true, FLAG_USER },
	{ "entrypoint", 0, true, FLAG_ENTRYPOINT },
	{ "network", 0, true, FLAG_NETWORK },
	{ "net", 0, true, FLAG_NETWORK },
	{ "init", 0, false, FLAG_INIT },
	{ "rm", 0, false, FLAG_RM },
};

static int set_str(char **dst, const char *v)
{
	char *d = strdup(v);

	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

static int apply_flag(struct docker_run_args *a, size_t *n_env, size_t *n_vol, size_t *n_lab,
		      const struct flag *f, const char *shown, const char *v, char **reterr)
{
	switch (f->kind) {
	case FLAG_NAME:
		if (!container_name_valid(v))
			return fail(reterr, "invalid container name '%s'", v);
		return set_str(&a->name, v);
	case FLAG_ENV:
		if (v[0] == '\0' || v[0] == '=')
			return fail(reterr, "invalid %s value '%s'", shown, v);
		if (!strchr(v, '='))
			/* docker would copy it from the CLI's environment, which the daemon lacks */
			return fail(reterr, "%s '%s' needs a value (KEY=VALUE)", shown, v);
		return strv_push_dup(&a->env, n_env, v);
	case FLAG_VOLUME:
		if (v[0] == '\0')
			return fail(reterr, "invalid %s value ''", shown);
		return strv_push_dup(&a->volumes, n_vol, v);
	case FLAG_LABEL: {
		char *d;

		if (v[0] == '\0' || v[0] == '=')
			return fail(reterr, "invalid %s value '%s'", shown, v);
		if (strchr(v, '='))
			d = strdup(v);
		else if (asprintf(&d, "%s=", v) < 0)
			d = NULL;
		return strv_push(&a->labels, n_lab, d); /* takes @d; NULL is -ENOMEM */
	}
	case FLAG_WORKDIR:
		if (v[0] != '/')
			return fail(reterr, "%s '%s' must be an absolute path", shown, v);
		return set_str(&a->workdir, v);
	case FLAG_USER:
		if (v[0] == '\0')
			return fail(reterr, "invalid %s value ''", shown);
		return set_str(&a->user, v);
	case FLAG_ENTRYPOINT:
		return set_str(&a->entrypoint, v);
	case FLAG_NETWORK:
		if (v[0] == '\0')
			return fail(reterr, "invalid %s value ''", shown);
		return set_str(&a->network, v);
	case FLAG_INIT:
	case FLAG_RM:
		break;
	}
	return 0;
}

static int parse_bool(const char *v, bool *ret)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*ret = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

void docker_run_args_done(struct docker_run_args *a)
{
	if (!a)
		return;
	free(a->name);
	strv_free(a->env);
	strv_free(a->volumes);
	strv_free(a->labels);
	free(a->workdir);
	free(a->user);
	free(a->entrypoint);
	free(a->network);
	free(a->image);
	strv_free(a->cmd);
	*a = (struct docker_run_args){};
}

DEFINE_POINTER_CLEANUP(struct docker_run_args *, docker_run_args_done)

int docker_run_args_parse(const char *s, struct docker_run_args *ret, char **reterr)
{
	_cleanup_(strv_freep) char **w = NULL;
	struct docker_run_args a = {};
	_cleanup_(docker_run_args_donep) struct docker_run_args *ap = &a;
	size_t n_env = 0, n_vol = 0, n_lab = 0, n_cmd = 0, i;
	int r;

	if (reterr)
		*reterr = NULL;
	r = shell_split(s, &w, reterr);
	if (r < 0)
		return r;

	for (i = 0; w[i]; i++) {
		const char *arg = w[i], *val = NULL, *shown = arg;
		_cleanup_free_ char *name = NULL;
		const struct flag *f = NULL;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break; /* the image */

		if (arg[1] == '-') {
			const char *eq = strchr(arg, '=');

			name = eq ? strndup(arg, (size_t)(eq - arg)) : strdup(arg);
			if (!name)
				return -ENOMEM;
			shown = name;
			for (size_t k = 0; k < ELEMENTSOF(flags); k++)
				if (strcmp(name + 2, flags[k].lng) == 0)
					f = &flags[k];
			if (eq)
				val = eq + 1;
		} else {
			if (asprintf(&name, "-%c", arg[1]) < 0) {
				name = NULL;
				return -ENOMEM;
			}
			shown = name;
			for (size_t k = 0; k < ELEMENTSOF(flags); k++)
				if (flags[k].shrt && flags[k].shrt == arg[1])
					f = &flags[k];
			if (arg[2] != '\0')
				val = arg + 2; /* "-eFOO=bar", as pflag */
		}
		if (!f)
			return fail(reterr, "unsupported docker-run flag '%s'", shown);

		if (!f->takes_value) {
			bool b = true;

			if (val && parse_bool(val, &b) < 0)
				return fail(reterr, "flag '%s' takes no value (or true/false)",
					    shown);
			if (f->kind == FLAG_INIT)
				a.init = b;
			else
				a.rm = b;
			continue;
		}
		if (!val) {
			if (!w[i + 1])
				return fail(reterr, "flag '%s' needs a value", shown);
			val = w[++i];
		}
		r = apply_flag(&a, &n_env, &n_vol, &n_lab, f, shown, val, reterr);
		if (r < 0)
			return r;
	}

	if (!w[i])
		return fail(reterr, "missing image");
	r = image_check(w[i], reterr);
	if (r < 0)
		return r;
	a.image = strdup(w[i]);
	if (!a.image)
		return -ENOMEM;
	for (i++; w[i]; i++) {
		r = strv_push_dup(&a.cmd, &n_cmd, w[i]);
		if (r < 0)
			return r;
	}

	*ret = a;
	ap = NULL; /* ownership left with the struct copy */
	return 0;
}
