/* SPDX-License-Identifier: MIT */
/*
 * docker-inspect.c - the Docker ops that are one request each: inspect, remove, list by label
 *
 * Each sends one request and completes with its answer; only inspect has state of its own (the
 * reference it looks up), because dockerd 20.10 answers an ambiguous id prefix with a bare 500
 * "Multiple IDs found": inspect then lists every container and names the matches itself, so the
 * user gets "ambiguous container prefix 'ab': matches abc123456789 (web), ...".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "docker-internal.h"
#include "docker.h"
#include "errmsg.h"
#include "strv.h"

struct inspect_op {
	struct docker_op op;
	char *ref; /* what the user asked for: the ambiguity message names it */
};

static struct inspect_op *container_of_inspect(struct docker_op *op)
{
	return (struct inspect_op *)op;
}

static void inspect_free(struct docker_op *op)
{
	free(container_of_inspect(op)->ref);
}

static const struct docker_op_kind inspect_kind = {
	.size = sizeof(struct inspect_op),
	.free = inspect_free,
};

/* remove and list keep nothing but the base */
static const struct docker_op_kind plain_kind = { .size = sizeof(struct docker_op) };

/* ---- inspect ----------------------------------------------------------------------------- */

static void step_inspect_ambiguous(struct docker_op *op, int r, const char *error, long status,
				   char *body)
{
	const char *ref = container_of_inspect(op)->ref;
	_cleanup_free_ char *msg = NULL;
	yajl_val v = NULL;
	FILE *f;
	size_t size = 0, nmatch = 0;

	if (r >= 0 && status == 200)
		v = yajl_tree_parse(body, NULL, 0);
	f = open_memstream(&msg, &size);
	if (!f) {
		yajl_tree_free(v);
		docker_op_finish_info(op, -ENOMEM, "out of memory", NULL);
		return;
	}
	fprintf(f, "ambiguous container prefix '%s'", ref);
	if (v && YAJL_IS_ARRAY(v)) {
		for (size_t i = 0; i < YAJL_GET_ARRAY(v)->len; i++) {
			yajl_val c = YAJL_GET_ARRAY(v)->values[i];
			const char *id = docker_json_str(c, "Id", NULL);
			yajl_val names = docker_json_get(c, "Names", NULL, yajl_t_array);
			const char *name = NULL;

			if (names && YAJL_IS_ARRAY(names) && names->u.array.len > 0 &&
			    YAJL_IS_STRING(names->u.array.values[0]))
				name = YAJL_GET_STRING(names->u.array.values[0]);
			if (!id || strncmp(id, ref, strlen(ref)) != 0)
				continue;
			if (name && name[0] == '/')
				name++;
			fprintf(f, "%s%.12s", nmatch++ > 0 ? ", " : ": matches ", id);
			if (name)
				fprintf(f, " (%s)", name);
		}
	}
	yajl_tree_free(v);
	if (fclose(f) != 0 || !msg) {
		docker_op_finish_info(op, -ENOMEM, "out of memory", NULL);
		return;
	}
	docker_op_finish_info(op, -EINVAL, msg, NULL);
}

static void step_inspect(struct docker_op *op, int r, const char *error, long status, char *body)
{
	_cleanup_free_ char *msg = NULL;
	struct docker_container_info info = { 0 };

	if (r < 0) {
		docker_op_finish_info(op, r, error, NULL);
		return;
	}
	if (status != 200) {
		r = docker_http_error(status, body, &msg);
		/* dockerd 20.10 answers 500 "Multiple IDs found with provided prefix: ab" */
		if (msg && strstr(msg, "Multiple IDs found")) {
			/* dockerd 20.10's id filter finds nothing for an ambiguous prefix: list all */
			docker_op_request(op, "GET", "/containers/json?all=1", NULL,
					  step_inspect_ambiguous);
			return;
		}
		docker_op_finish_info(op, r, msg ? msg : "out of memory", NULL);
		return;
	}
	r = docker_info_parse(body, &info);
	if (r < 0) {
		docker_op_finish_info(op, r, "cannot parse Docker's container inspect answer",
				      NULL);
		return;
	}
	docker_op_finish_info(op, 0, NULL, &info);
	docker_info_done(&info);
}

/* An inspect-kind op on /containers/REF/@what (@ref escaped), answered through @cb with the
 * container's info; @ref is kept for the messages. */
static int inspect_kind_request(struct docker *d, const char *ref, const char *method,
				const char *what, docker_step_fn step, docker_info_fn cb,
				void *userdata, struct docker_op **ret_op)
{
	_cleanup_free_ char *path = NULL;
	struct docker_op *op;

	if (!ref || !ref[0])
		return -EINVAL;
	path = docker_container_path(ref, what);
	if (!path)
		return -ENOMEM;
	op = docker_op_new(d, &inspect_kind, userdata);
	if (!op)
		return -ENOMEM;
	op->cb.info = cb;
	container_of_inspect(op)->ref = strdup(ref);
	if (!container_of_inspect(op)->ref) {
		op->cancelled = true;
		docker_op_detach(op);
		return -ENOMEM;
	}
	if (ret_op)
		*ret_op = op;
	docker_op_request(op, method, path, NULL, step);
	return 0;
}

int docker_inspect(struct docker *d, const char *ref, docker_info_fn cb, void *userdata,
		   struct docker_op **ret_op)
{
	return inspect_kind_request(d, ref, "GET", "/json", step_inspect, cb, userdata, ret_op);
}

/* ---- remove and list --------------------------------------------------------------------- */

static void step_remove(struct docker_op *op, int r, const char *error, long status, char *body)
{
	_cleanup_free_ char *msg = NULL;

	if (r >= 0 && status != 204 && status != 200 && status != 404) {
		r = docker_http_error(status, body, &msg);
		error = msg ? msg : "out of memory";
	}
	docker_op_finish_done(op, r < 0 ? r : 0, error);
}

int docker_remove(struct docker *d, const char *id, docker_done_fn cb, void *userdata,
		  struct docker_op **ret_op)
{
	_cleanup_free_ char *path = NULL;
	struct docker_op *op;

	if (!id || !id[0])
		return -EINVAL;
	path = docker_container_path(id, DOCKER_REMOVE_QUERY);
	if (!path)
		return -ENOMEM;
	op = docker_op_new(d, &plain_kind, userdata);
	if (!op)
		return -ENOMEM;
	op->cb.done = cb;
	if (ret_op)
		*ret_op = op;
	docker_op_request(op, "DELETE", path, NULL, step_remove);
	return 0;
}

/* ---- stop and start an existing container ----------------------------------------------- */

static void step_stop(struct docker_op *op, int r, const char *error, long status, char *body)
{
	_cleanup_free_ char *msg = NULL;

	/* 304: not running; 404: gone. Either way it does not run. */
	if (r >= 0 && status != 204 && status != 304 && status != 404) {
		r = docker_http_error(status, body, &msg);
		error = msg ? msg : "out of memory";
	}
	docker_op_finish_done(op, r < 0 ? r : 0, error);
}

int docker_stop(struct docker *d, const char *id, unsigned timeout_sec, docker_done_fn cb,
		void *userdata, struct docker_op **ret_op)
{
	_cleanup_free_ char *path = NULL;
	char what[32];
	struct docker_op *op;

	if (!id || !id[0])
		return -EINVAL;
	snprintf(what, sizeof(what), "/stop?t=%u", timeout_sec);
	path = docker_container_path(id, what);
	if (!path)
		return -ENOMEM;
	op = docker_op_new(d, &plain_kind, userdata);
	if (!op)
		return -ENOMEM;
	op->cb.done = cb;
	if (ret_op)
		*ret_op = op;
	docker_op_request(op, "POST", path, NULL, step_stop);
	return 0;
}

static void step_start_inspected(struct docker_op *op, int r, const char *error, long status,
				 char *body)
{
	_cleanup_free_ char *msg = NULL;
	struct docker_container_info info = { 0 };

	if (r >= 0 && status != 200)
		r = docker_http_error(status, body, &msg), error = msg ? msg : "out of memory";
	if (r >= 0 && docker_info_parse(body, &info) < 0)
		r = -EBADMSG, error = "cannot parse Docker's container inspect answer";
	if (r >= 0 && (!info.running || info.pid <= 0)) {
		(void)errmsg_set(&msg, "container '%s' exited right after start (exit code %d)",
				 info.name, info.exit_code);
		r = -ESRCH, error = msg ? msg : "out of memory";
	}
	docker_op_finish_info(op, r, error, r < 0 ? NULL : &info);
	docker_info_done(&info);
}

static void step_start(struct docker_op *op, int r, const char *error, long status, char *body)
{
	_cleanup_free_ char *msg = NULL, *path = NULL;

	if (r >= 0 && status != 204 && status != 304)
		r = docker_http_error(status, body, &msg), error = msg ? msg : "out of memory";
	if (r >= 0) {
		path = docker_container_path(container_of_inspect(op)->ref, "/json");
		if (!path)
			r = -ENOMEM, error = "out of memory";
	}
	if (r < 0) {
		docker_op_finish_info(op, r, error, NULL);
		return;
	}
	docker_op_request(op, "GET", path, NULL, step_start_inspected);
}

int docker_start(struct docker *d, const char *id, docker_info_fn cb, void *userdata,
		 struct docker_op **ret_op)
{
	return inspect_kind_request(d, id, "POST", "/start", step_start, cb, userdata, ret_op);
}

static void step_list(struct docker_op *op, int r, const char *error, long status, char *body)
{
	struct docker *d = op->d;
	_cleanup_free_ char *msg = NULL;
	char **ids = NULL;
	size_t n = 0;
	yajl_val v;

	if (r >= 0 && status != 200) {
		r = docker_http_error(status, body, &msg);
		error = msg ? msg : "out of memory";
	}
	if (r < 0)
		goto out;
	v = yajl_tree_parse(body, NULL, 0);
	if (!v || !YAJL_IS_ARRAY(v)) {
		yajl_tree_free(v);
		r = -EBADMSG;
		error = "cannot parse Docker's container list";
		goto out;
	}
	ids = calloc(1, sizeof(char *));
	r = ids ? 0 : -ENOMEM;
	for (size_t i = 0; r >= 0 && i < YAJL_GET_ARRAY(v)->len; i++) {
		const char *id = docker_json_str(YAJL_GET_ARRAY(v)->values[i], "Id", NULL);

		if (id)
			r = strv_push(&ids, &n, strdup(id));
	}
	yajl_tree_free(v);
	if (r < 0)
		error = "out of memory";
out:
	d->n_ref++;
	if (!op->cancelled && op->cb.ids)
		op->cb.ids(d, r, r < 0 ? error : NULL, r < 0 ? NULL : ids, op->userdata);
	op->cancelled = true;
	docker_op_detach(op);
	strv_free(ids);
	docker_unref(d);
}

int docker_list_by_label(struct docker *d, const char *label, docker_ids_fn cb, void *userdata,
			 struct docker_op **ret_op)
{
	_cleanup_free_ char *filters = NULL, *path = NULL;
	struct docker_op *op;

	if (!label || !label[0])
		return -EINVAL;
	filters = docker_filter_one("label", label);
	if (!filters)
		return -ENOMEM;
	if (asprintf(&path, "/containers/json?all=1&filters=%s", filters) < 0) {
		path = NULL; /* undefined after a failure */
		return -ENOMEM;
	}
	op = docker_op_new(d, &plain_kind, userdata);
	if (!op)
		return -ENOMEM;
	op->cb.ids = cb;
	if (ret_op)
		*ret_op = op;
	docker_op_request(op, "GET", path, NULL, step_list);
	return 0;
}
