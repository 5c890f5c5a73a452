/* SPDX-License-Identifier: MIT */
/*
 * ctl-json.c - the yajl helpers under the control protocol: generator shorthands, and a strict
 * reading of a line and of its fields
 *
 * yajl_tree on its own would let through what a peer could use to be read one way here and
 * another way elsewhere: a NUL byte or \u0000 cuts a string short, text that is not UTF-8 (or a
 * lone surrogate escape) is passed on, and of two equal keys a lookup finds the first. A line is
 * refused for any of these before a field of it is read, and every field is type-checked.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "ctl-proto-internal.h"
#include "ctl-proto.h"
#include "errmsg.h"

void ctl_json_gen_freep(yajl_gen *g)
{
	if (*g)
		yajl_gen_free(*g);
}

void ctl_json_tree_freep(yajl_val *v)
{
	if (*v)
		yajl_tree_free(*v);
}

int ctl_json_gen_str(yajl_gen g, const char *s)
{
	return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_status_ok
		       ? 0
		       : -ENOMEM;
}

int ctl_json_gen_kv(yajl_gen g, const char *k, const char *v)
{
	if (ctl_json_gen_str(g, k) < 0)
		return -ENOMEM;
	if (!v)
		return yajl_gen_null(g) == yajl_gen_status_ok ? 0 : -ENOMEM;
	return ctl_json_gen_str(g, v);
}

/* A counter; beyond INT64_MAX (yajl's integers are long long) it is clamped, not wrapped. */
int ctl_json_gen_ku(yajl_gen g, const char *k, uint64_t v)
{
	if (ctl_json_gen_str(g, k) < 0)
		return -ENOMEM;
	if (v > INT64_MAX)
		v = INT64_MAX;
	return yajl_gen_integer(g, (long long)v) == yajl_gen_status_ok ? 0 : -ENOMEM;
}

/* Takes the generated text, adds '\n', NUL-terminates. */
int ctl_json_gen_finish(yajl_gen g, char **ret)
{
	const unsigned char *buf;
	size_t len;
	char *s;

	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		return -ENOMEM;
	s = malloc(len + 2);
	if (!s)
		return -ENOMEM;
	memcpy(s, buf, len);
	if (len == 0 || s[len - 1] != '\n')
		s[len++] = '\n';
	s[len] = 0;
	*ret = s;
	return 0;
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. Returns the
 * length of the valid prefix, so == @len when all of @s is valid.
 */
static size_t utf8_valid_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf; /* range of the byte after the lead */
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return i;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* UTF-16 surrogates */
		else if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
		if (len - i <= n || s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return i;
		i += n + 1;
	}
	return len;
}

/*
 * True if a string (a key or a value) of @json, valid JSON, holds the escape \u0000: yajl_tree
 * hands out NUL-terminated strings, so "url\u0000x" would silently become "url". Escapes exist
 * only inside strings, and "\\u0000" is a backslash followed by "u0000", hence the escape-aware
 * walk rather than a plain search.
 */
static bool has_nul_escape(const char *json, size_t len)
{
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		if (json[i] == '"') {
			in_string = !in_string;
		} else if (in_string && json[i] == '\\') {
			if (len - i > 5 && memcmp(json + i + 1, "u0000", 5) == 0)
				return true;
			i++; /* the escaped character: not a quote, not a backslash */
		}
	}
	return false;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * yajl_tree keeps every key of an object, duplicates included, and a lookup finds the first: so
 * {"op":"list","op":"delete"} would mean whatever the reader happens to look at first. Refuse such
 * objects instead. Sorting a copy of the keys keeps this O(k log k) for an object of k keys (a
 * line of CTL_LINE_MAX may hold tens of thousands).
 */
int ctl_json_check_unique(yajl_val obj, const char *what, char **reterr)
{
	_cleanup_free_ const char **keys = NULL;
	size_t n = obj->u.object.len;

	if (n < 2)
		return 0;
	keys = malloc(n * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	memcpy(keys, obj->u.object.keys, n * sizeof(*keys));
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(keys[i - 1], keys[i]) == 0)
			return set_err(reterr, "duplicate key '%.64s' in the %s", keys[i], what);
	return 0;
}

/*
 * Copies the line into a NUL-terminated buffer and parses it; the caller frees the tree. @what
 * ("request", "reply") names the line in messages. Bytes yajl_tree would silently lose or
 * misreport are refused first: a NUL byte (the copy would end there), text that is not UTF-8
 * (yajl calls it a "lexical error"), and \u0000 in a string.
 */
int ctl_json_parse_tree(const char *line, size_t len, const char *what, yajl_val *ret,
			char **reterr)
{
	_cleanup_free_ char *buf = NULL;
	char errbuf[256] = "";
	size_t valid;
	yajl_val v;
	int r;

	if (len > CTL_LINE_MAX)
		return -E2BIG;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (memchr(line, '\0', len))
		return set_err(reterr, "%s contains a NUL byte", what);
	valid = utf8_valid_prefix((const unsigned char *)line, len);
	if (valid < len)
		return set_err(reterr, "invalid UTF-8 at byte %zu of the %s", valid + 1, what);
	buf = strndup(line, len);
	if (!buf)
		return -ENOMEM;
	v = yajl_tree_parse(buf, errbuf, sizeof(errbuf));
	if (!v) {
		errbuf[strcspn(errbuf, "\n")] = 0;
		return set_err(reterr, "malformed JSON: %s", errbuf[0] ? errbuf : "parse error");
	}
	if (has_nul_escape(buf, len)) {
		yajl_tree_free(v);
		return set_err(reterr, "%s contains \\u0000 (a NUL byte) in a string", what);
	}
	if (!YAJL_IS_OBJECT(v)) {
		yajl_tree_free(v);
		return set_err(reterr, "a message must be a JSON object");
	}
	r = ctl_json_check_unique(v, what, reterr);
	if (r < 0) {
		yajl_tree_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

yajl_val ctl_json_get(yajl_val obj, const char *key)
{
	const char *path[] = { key, NULL };

	return yajl_tree_get(obj, path, yajl_t_any);
}

/*
 * A copy of a decoded string. The line itself was checked to be UTF-8, but an escape can still
 * decode to something that is not: yajl turns a lone surrogate ("\ude00") into the bytes of one,
 * which we would then pass on (and which our own parser refuses when it comes back).
 */
int ctl_json_dup_utf8(const char *s, const char *key, char **ret, char **reterr)
{
	size_t len = strlen(s);

	if (utf8_valid_prefix((const unsigned char *)s, len) < len)
		return set_err(reterr, "'%s' is not valid UTF-8 (a lone surrogate escape?)", key);
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

/* Optional string field: absent/null -> NULL; wrong type -> -EINVAL. */
int ctl_json_get_str(yajl_val obj, const char *key, char **ret, char **reterr)
{
	yajl_val v = ctl_json_get(obj, key);

	if (!v || YAJL_IS_NULL(v)) {
		*ret = NULL;
		return 0;
	}
	if (!YAJL_IS_STRING(v))
		return set_err(reterr, "'%s' must be a string", key);
	return ctl_json_dup_utf8(YAJL_GET_STRING(v) ?: "", key, ret, reterr);
}

int ctl_json_get_u64(yajl_val obj, const char *key, uint64_t *ret, char **reterr)
{
	yajl_val v = ctl_json_get(obj, key);

	if (!v) {
		*ret = 0;
		return 0;
	}
	if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0)
		return set_err(reterr, "'%s' must be a non-negative integer", key);
	*ret = (uint64_t)YAJL_GET_INTEGER(v);
	return 0;
}
