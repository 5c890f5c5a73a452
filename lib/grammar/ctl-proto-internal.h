/* SPDX-License-Identifier: MIT */
/*
 * ctl-proto-internal.h - what the three parts of the control protocol share
 *
 * ctl-proto.c writes and reads requests (and the tunnel object that requests and replies both
 * carry), ctl-reply.c writes and reads replies, ctl-json.c holds the yajl helpers under both: the
 * generator shorthands, and the strict reading of a line (UTF-8, NUL bytes, duplicate keys) and of
 * its typed fields. Nothing outside lib/grammar/ctl-*.c includes this header.
 */
#pragma once

#include <stdint.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "errmsg.h"

struct ctl_tunnel;

#define set_err ERRMSG_FAIL

/* for _cleanup_(): free the generator or tree if there is one */
void ctl_json_gen_freep(yajl_gen *g);
void ctl_json_tree_freep(yajl_val *v);

/**
 * ctl_json_gen_str() - Generate the string @s (borrowed)
 * Return: 0, -ENOMEM
 */
int ctl_json_gen_str(yajl_gen g, const char *s);

/**
 * ctl_json_gen_kv() - Generate the key @k and the string @v, or null when @v is NULL
 * Return: 0, -ENOMEM
 */
int ctl_json_gen_kv(yajl_gen g, const char *k, const char *v);

/**
 * ctl_json_gen_ku() - Generate the key @k and the counter @v, clamped to INT64_MAX
 * Return: 0, -ENOMEM
 */
int ctl_json_gen_ku(yajl_gen g, const char *k, uint64_t v);

/**
 * ctl_json_gen_finish() - The text generated so far, with '\n' added and NUL-terminated
 * @ret:	on 0, the line; the caller frees it
 * Return: 0, -ENOMEM
 */
int ctl_json_gen_finish(yajl_gen g, char **ret);

/**
 * ctl_json_check_unique() - Refuse an object that holds a key twice
 * @what:	names the object in the message
 * Return: 0, -EINVAL (message in @reterr), -ENOMEM
 */
int ctl_json_check_unique(yajl_val obj, const char *what, char **reterr);

/**
 * ctl_json_parse_tree() - Parse one line of at most CTL_LINE_MAX bytes (a trailing newline is
 * fine) into an object, refusing NUL bytes, text that is not UTF-8, \u0000 and duplicate keys
 * @what:	"request", "reply": names the line in messages
 * @ret:	on 0, the tree; the caller frees it with yajl_tree_free()
 * Return: 0, -E2BIG, -EINVAL (message in @reterr), -ENOMEM
 */
int ctl_json_parse_tree(const char *line, size_t len, const char *what, yajl_val *ret,
			char **reterr);

/**
 * ctl_json_get() - The member @key of @obj, or NULL
 * Return: a value borrowed from @obj
 */
yajl_val ctl_json_get(yajl_val obj, const char *key);

/**
 * ctl_json_dup_utf8() - A copy of the decoded string @s, refused when it is not UTF-8
 * @key:	names the field in the message
 * Return: 0 (*@ret is the caller's), -EINVAL (message in @reterr), -ENOMEM
 */
int ctl_json_dup_utf8(const char *s, const char *key, char **ret, char **reterr);

/**
 * ctl_json_get_str() - An optional string field: absent or null gives NULL
 * Return: 0 (*@ret is the caller's), -EINVAL when not a string (message in @reterr), -ENOMEM
 */
int ctl_json_get_str(yajl_val obj, const char *key, char **ret, char **reterr);

/**
 * ctl_json_get_u64() - An optional non-negative integer field: absent gives 0
 * Return: 0, -EINVAL when of another type or negative (message in @reterr)
 */
int ctl_json_get_u64(yajl_val obj, const char *key, uint64_t *ret, char **reterr);

/**
 * ctl_tunnel_gen() - Generate the object of @t (borrowed)
 * Return: 0, -ENOMEM
 */
int ctl_tunnel_gen(yajl_gen g, const struct ctl_tunnel *t);

/**
 * ctl_tunnel_parse() - Read the object @o into @t
 * @t:		filled even on failure; release with ctl_tunnel_done()
 * Return: 0, -EINVAL (message in @reterr), -ENOMEM
 */
int ctl_tunnel_parse(yajl_val o, struct ctl_tunnel *t, char **reterr);
