/* SPDX-License-Identifier: MIT */
/*
 * docker-json.c - the Docker client's yajl side: reading answers, writing filters
 *
 * Answers are parsed with yajl's tree API and read with docker_json_get/str/int(), which take a
 * path of one or two keys and give NULL or 0 for anything missing or of another type, so a
 * field dockerd leaves out never crashes us. Docker's error bodies ({"message":...}) become a
 * negative errno plus that message verbatim; inspect answers become a struct
 * docker_container_info. The yajl trees never leave this file's functions and their callers.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "docker-internal.h"
#include "errmsg.h"
#include "strv.h"

char *docker_url_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *r = e ? strdup(e) : NULL;

	curl_free(e);
	return r;
}

char *docker_container_path(const char *ref, const char *what)
{
	_cleanup_free_ char *esc = docker_url_escape(ref);
	char *path;

	if (!esc || asprintf(&path, "/containers/%s%s", esc, what) < 0)
		return NULL;
	return path;
}

yajl_val docker_json_get(yajl_val v, const char *k1, const char *k2, yajl_type t)
{
	const char *path[] = { k1, k2, NULL };

	return v ? yajl_tree_get(v, path, t) : NULL;
}

const char *docker_json_str(yajl_val v, const char *k1, const char *k2)
{
	yajl_val s = docker_json_get(v, k1, k2, yajl_t_string);

	return s ? YAJL_GET_STRING(s) : NULL;
}

long long docker_json_int(yajl_val v, const char *k1, const char *k2)
{
	yajl_val n = docker_json_get(v, k1, k2, yajl_t_number);

	return n && YAJL_IS_INTEGER(n) ? YAJL_GET_INTEGER(n) : 0;
}

bool docker_gen_str(yajl_gen g, const char *s)
{
	return GEN_OK(yajl_gen_string(g, (const unsigned char *)s, strlen(s)));
}

/* Docker error bodies are {"message":"..."}: that text goes to the user verbatim. */
int docker_http_error(long status, const char *body, char **ret_msg)
{
	yajl_val v = body ? yajl_tree_parse(body, NULL, 0) : NULL;
	const char *m = docker_json_str(v, "message", NULL);

	if (m)
		*ret_msg = strdup(m);
	else
		(void)errmsg_set(ret_msg, "Docker answered HTTP %ld", status);
	yajl_tree_free(v);
	switch (status) {
	case 304:
		return -EALREADY;
	case 400:
		return -EINVAL;
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 409:
		return -EEXIST;
	default:
		return -EIO;
	}
}

void docker_info_done(struct docker_container_info *i)
{
	free(i->id);
	free(i->name);
	strv_free(i->labels);
	*i = (struct docker_container_info){ 0 };
}

int docker_info_parse(const char *body, struct docker_container_info *ret)
{
	struct docker_container_info i = { 0 };
	yajl_val v, labels, running;
	const char *id, *name;
	size_t n = 0;
	int r = -ENOMEM;

	v = yajl_tree_parse(body, NULL, 0);
	id = docker_json_str(v, "Id", NULL);
	if (!id || !*id) { /* an empty id would match every container in a prefix lookup */
		yajl_tree_free(v);
		return -EBADMSG;
	}
	name = docker_json_str(v, "Name", NULL);
	if (!name)
		name = "";
	i.id = strdup(id);
	i.name = strdup(name[0] == '/' ? name + 1 : name);
	i.pid = (pid_t)docker_json_int(v, "State", "Pid");
	i.exit_code = (int)docker_json_int(v, "State", "ExitCode");
	running = docker_json_get(v, "State", "Running", yajl_t_any);
	i.running = running && YAJL_IS_TRUE(running);
	if (!i.id || !i.name)
		goto out;
	i.labels = calloc(1, sizeof(char *));
	if (!i.labels)
		goto out;
	labels = docker_json_get(v, "Config", "Labels", yajl_t_object);
	for (size_t k = 0; labels && YAJL_IS_OBJECT(labels) && k < labels->u.object.len; k++) {
		yajl_val lv = labels->u.object.values[k];
		char *kv;

		if (asprintf(&kv, "%s=%s", labels->u.object.keys[k],
			     YAJL_IS_STRING(lv) ? YAJL_GET_STRING(lv) : "") < 0)
			kv = NULL; /* asprintf leaves it undefined on failure */
		if (strv_push(&i.labels, &n, kv) < 0)
			goto out;
	}
	*ret = i;
	i = (struct docker_container_info){ 0 };
	r = 0;
out:
	docker_info_done(&i);
	yajl_tree_free(v);
	return r;
}

char *docker_filter_one(const char *key, const char *value)
{
	_cleanup_free_ char *json = NULL;
	const unsigned char *buf;
	size_t len;
	yajl_gen g = yajl_gen_alloc(NULL);
	char *r = NULL;

	if (!g)
		return NULL;
	if (yajl_gen_map_open(g) == yajl_gen_status_ok &&
	    yajl_gen_string(g, (const unsigned char *)key, strlen(key)) == yajl_gen_status_ok &&
	    yajl_gen_array_open(g) == yajl_gen_status_ok &&
	    yajl_gen_string(g, (const unsigned char *)value, strlen(value)) == yajl_gen_status_ok &&
	    yajl_gen_array_close(g) == yajl_gen_status_ok &&
	    yajl_gen_map_close(g) == yajl_gen_status_ok &&
	    yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
		json = strndup((const char *)buf, len);
	yajl_gen_free(g);
	if (json)
		r = docker_url_escape(json);
	return r;
}

/* The "exitCode" attribute of a die event: a decimal int, else -EINVAL. */
static int exit_code_parse(const char *s, int *ret)
{
	long v;
	char *end;

	if (!((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9')))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

void docker_event_line_done(struct docker_event_line *e)
{
	free(e->action);
	free(e->id);
	free(e->name);
	*e = (struct docker_event_line){ 0 };
}

int docker_event_line_parse(const char *line, struct docker_event_line *ret)
{
	yajl_val v = yajl_tree_parse(line, NULL, 0);
	const char *type, *action, *id, *name, *code;
	struct docker_event_line e = { 0 };

	if (!v)
		return 0;
	type = docker_json_str(v, "Type", NULL);
	action = docker_json_str(v, "Action", NULL);
	if (!action)
		action = docker_json_str(v, "status", NULL);
	id = docker_json_str(v, "Actor", "ID");
	if (!id)
		id = docker_json_str(v, "id", NULL);
	if ((type && strcmp(type, "container") != 0) || !action || !id) {
		yajl_tree_free(v);
		return 0;
	}
	e.time_nano = docker_json_int(v, "timeNano", NULL);
	{
		const char *np[] = { "Actor", "Attributes", "name", NULL };
		const char *cp[] = { "Actor", "Attributes", "exitCode", NULL };
		yajl_val nv = yajl_tree_get(v, np, yajl_t_string);
		yajl_val cv = yajl_tree_get(v, cp, yajl_t_string);

		name = nv ? YAJL_GET_STRING(nv) : NULL;
		code = cv ? YAJL_GET_STRING(cv) : NULL;
	}
	e.action = strdup(action);
	e.id = strdup(id);
	e.name = name ? strdup(name) : NULL;
	if (!code || exit_code_parse(code, &e.exit_code) < 0)
		e.exit_code = 0; /* absent or not a number: unknown, as for other actions */
	yajl_tree_free(v);
	if (!e.action || !e.id || (name && !e.name)) {
		docker_event_line_done(&e);
		return -ENOMEM;
	}
	*ret = e;
	return 1;
}
