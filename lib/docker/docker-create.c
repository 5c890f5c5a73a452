/* SPDX-License-Identifier: MIT */
/*
 * docker-create.c - docker_create_and_start(): `docker run -d` as one op
 *
 * POST /containers/create; on 404 (no such image) POST /images/create, whose streamed answer is
 * read line by line into progress text (delivered from the loop by a defer source, in order) and
 * the pull's own error, then create again; POST /containers/ID/start; GET /containers/ID/json
 * for the pid. From the moment a request may have made a container (may_create), a failure or a
 * cancel goes through create_fail(), which removes the container (force, with its anonymous
 * volumes) before anything is reported, keeping the first error and adding the removal's own if
 * that fails too. A cancelled create thus runs on, silently, until nothing of it is left.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "docker-args.h"
#include "docker-internal.h"
#include "docker.h"
#include "errmsg.h"
#include "log.h"
#include "strv.h"

struct create_op {
	struct docker_op op;
	docker_progress_fn progress;
	char *create_path, *create_body, *image;
	char *id;	 /* the container, once created and until removed again */
	bool pulled;	 /* the image was missing and pulled once: no second pull */
	bool cleaning;	 /* removing the container after a failure */
	bool may_create; /* the request may leave a container: cancel must not abort it */
	int saved_r;	 /* the first error, reported once the container is gone */
	char *saved_error;
	char *pull_error; /* the pull stream's {"error":...} */
	char **progress_queue;
	size_t n_progress;
	struct docker_container_info info;
};

static struct create_op *create_of(struct docker_op *op)
{
	return (struct create_op *)op;
}

static void create_free(struct docker_op *op)
{
	struct create_op *c = create_of(op);

	free(c->create_path);
	free(c->create_body);
	free(c->image);
	free(c->id);
	free(c->saved_error);
	free(c->pull_error);
	strv_free(c->progress_queue);
	docker_info_done(&c->info);
}

/* A create whose request may leave a container goes on, silently, until it is removed. */
static bool create_cancel(struct docker_op *op)
{
	return create_of(op)->may_create && !op->waiting && op->easy;
}

static const struct docker_op_kind create_kind = {
	.size = sizeof(struct create_op),
	.free = create_free,
	.cancel = create_cancel,
};

static bool gen_strv(yajl_gen g, const char *key, char *const *v)
{
	if (!v)
		return true;
	if (!docker_gen_str(g, key) || !GEN_OK(yajl_gen_array_open(g)))
		return false;
	for (; *v; v++)
		if (!docker_gen_str(g, *v))
			return false;
	return GEN_OK(yajl_gen_array_close(g));
}

static bool gen_label(yajl_gen g, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);

	return GEN_OK(yajl_gen_string(g, (const unsigned char *)kv, klen)) &&
	       docker_gen_str(g, eq ? eq + 1 : "");
}

static char *create_body(const struct docker_run_args *a, const char *const *labels)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len, nanon = 0, nbind = 0;
	bool ok;
	char *r = NULL;

	if (!g)
		return NULL;
	for (char **v = a->volumes; v && *v; v++) {
		if (strchr(*v, ':'))
			nbind++;
		else
			nanon++;
	}
	ok = GEN_OK(yajl_gen_map_open(g)) && docker_gen_str(g, "Image") &&
	     docker_gen_str(g, a->image) && gen_strv(g, "Cmd", a->cmd) &&
	     gen_strv(g, "Env", a->env);
	if (ok && a->entrypoint) {
		/* "" clears the image's entrypoint: Docker wants [""] for that, as its CLI sends */
		ok = docker_gen_str(g, "Entrypoint") && GEN_OK(yajl_gen_array_open(g)) &&
		     docker_gen_str(g, a->entrypoint) && GEN_OK(yajl_gen_array_close(g));
	}
	if (ok && a->workdir)
		ok = docker_gen_str(g, "WorkingDir") && docker_gen_str(g, a->workdir);
	if (ok && a->user)
		ok = docker_gen_str(g, "User") && docker_gen_str(g, a->user);
	ok = ok && docker_gen_str(g, "Labels") && GEN_OK(yajl_gen_map_open(g));
	for (char **v = a->labels; ok && v && *v; v++)
		ok = gen_label(g, *v);
	for (const char *const *v = labels; ok && v && *v; v++)
		ok = gen_label(g, *v); /* after the user's: ours win on a duplicate key */
	ok = ok && GEN_OK(yajl_gen_map_close(g));
	if (ok && nanon > 0) {
		ok = docker_gen_str(g, "Volumes") && GEN_OK(yajl_gen_map_open(g));
		for (char **v = a->volumes; ok && *v; v++)
			if (!strchr(*v, ':'))
				ok = docker_gen_str(g, *v) && GEN_OK(yajl_gen_map_open(g)) &&
				     GEN_OK(yajl_gen_map_close(g));
		ok = ok && GEN_OK(yajl_gen_map_close(g));
	}
	ok = ok && docker_gen_str(g, "HostConfig") && GEN_OK(yajl_gen_map_open(g));
	if (ok && nbind > 0) {
		ok = docker_gen_str(g, "Binds") && GEN_OK(yajl_gen_array_open(g));
		for (char **v = a->volumes; ok && *v; v++)
			if (strchr(*v, ':'))
				ok = docker_gen_str(g, *v);
		ok = ok && GEN_OK(yajl_gen_array_close(g));
	}
	if (ok && a->network)
		ok = docker_gen_str(g, "NetworkMode") && docker_gen_str(g, a->network);
	if (ok && a->init)
		ok = docker_gen_str(g, "Init") && GEN_OK(yajl_gen_bool(g, 1));
	ok = ok && docker_gen_str(g, "AutoRemove") && GEN_OK(yajl_gen_bool(g, 0)) &&
	     GEN_OK(yajl_gen_map_close(g)) && GEN_OK(yajl_gen_map_close(g));
	if (ok && GEN_OK(yajl_gen_get_buf(g, &buf, &len)))
		r = strndup((const char *)buf, len);
	yajl_gen_free(g);
	return r;
}

/* "repo[:tag]" or "repo@digest" -> the fromImage= and tag= of POST /images/create */
static char *pull_path(const char *image)
{
	_cleanup_free_ char *repo = NULL, *erepo = NULL, *etag = NULL;
	const char *at = strchr(image, '@'), *slash = strrchr(image, '/'), *colon, *tag;
	char *path;

	if (at) {
		repo = strndup(image, (size_t)(at - image));
		tag = at + 1;
	} else {
		colon = strrchr(slash ? slash : image, ':');
		repo = colon ? strndup(image, (size_t)(colon - image)) : strdup(image);
		tag = colon ? colon + 1 : "latest";
	}
	if (!repo)
		return NULL;
	erepo = docker_url_escape(repo);
	etag = docker_url_escape(tag);
	if (!erepo || !etag ||
	    asprintf(&path, "/images/create?fromImage=%s&tag=%s", erepo, etag) < 0)
		return NULL;
	return path;
}

static void create_finish(struct docker_op *op);

static void step_cleaned(struct docker_op *op, int r, const char *error, long status, char *body)
{
	struct create_op *c = create_of(op);
	_cleanup_free_ char *msg = NULL, *both = NULL;

	if (r >= 0 && status != 204 && status != 200 && status != 404)
		r = docker_http_error(status, body, &msg), error = msg;
	if (r < 0) {
		log_debug("docker: removing container %.12s failed: %s", c->id, error);
		if (errmsg_set(&both, "%s (and removing container %.12s failed: %s)",
			       c->saved_error ? c->saved_error : "", c->id,
			       error ? error : "") == 0) {
			free(c->saved_error);
			c->saved_error = TAKE_PTR(both);
		}
	}
	c->id = (free(c->id), NULL);
	create_finish(op);
}

/* Records the first error and removes the container if there is one; then reports. */
static void create_fail(struct docker_op *op, int r, const char *error)
{
	struct create_op *c = create_of(op);
	_cleanup_free_ char *path = NULL;

	if (c->saved_r == 0) {
		c->saved_r = r;
		c->saved_error = strdup(error ? error : strerror(-r));
	}
	if (!c->id || c->cleaning) {
		create_finish(op);
		return;
	}
	c->cleaning = true;
	c->may_create = true;
	path = docker_container_path(c->id, DOCKER_REMOVE_QUERY);
	if (!path) {
		create_finish(op);
		return;
	}
	docker_op_request(op, "DELETE", path, NULL, step_cleaned);
}

static void create_finish(struct docker_op *op)
{
	struct create_op *c = create_of(op);

	if (c->saved_r < 0)
		docker_op_finish_info(op, c->saved_r,
				      c->saved_error ? c->saved_error : "out of memory", NULL);
	else
		docker_op_finish_info(op, 0, NULL, &c->info);
}

/* A cancelled create stops here: nothing more than removing what it made. */
static bool create_cancelled(struct docker_op *op)
{
	if (!op->cancelled)
		return false;
	create_fail(op, -ECANCELED, "cancelled");
	return true;
}

static void step_create_inspected(struct docker_op *op, int r, const char *error, long status,
				  char *body)
{
	struct create_op *c = create_of(op);
	_cleanup_free_ char *msg = NULL;

	if (create_cancelled(op))
		return;
	if (r >= 0 && status != 200)
		r = docker_http_error(status, body, &msg), error = msg;
	if (r >= 0 && docker_info_parse(body, &c->info) < 0)
		r = -EBADMSG, error = "cannot parse Docker's container inspect answer";
	if (r < 0) {
		create_fail(op, r, error);
		return;
	}
	if (!c->info.running || c->info.pid <= 0) {
		(void)errmsg_set(&msg, "container '%s' exited right after start (exit code %d)",
				 c->info.name, c->info.exit_code);
		create_fail(op, -ESRCH, msg);
		return;
	}
	c->may_create = false;
	docker_op_finish_info(op, 0, NULL, &c->info);
}

static void step_started(struct docker_op *op, int r, const char *error, long status, char *body)
{
	struct create_op *c = create_of(op);
	_cleanup_free_ char *msg = NULL, *path = NULL;

	if (create_cancelled(op))
		return;
	if (r >= 0 && status != 204 && status != 304)
		r = docker_http_error(status, body, &msg), error = msg;
	if (r < 0) {
		create_fail(op, r, error);
		return;
	}
	if (asprintf(&path, "/containers/%s/json", c->id) < 0) {
		path = NULL; /* undefined after a failure */
		create_fail(op, -ENOMEM, NULL);
		return;
	}
	docker_op_request(op, "GET", path, NULL, step_create_inspected);
}

static void step_pulled(struct docker_op *op, int r, const char *error, long status, char *body);
static int pull_line(struct docker_op *op, char *line);

static void step_created(struct docker_op *op, int r, const char *error, long status, char *body)
{
	struct create_op *c = create_of(op);
	_cleanup_free_ char *msg = NULL, *path = NULL;
	yajl_val v;
	const char *id;

	if (r >= 0 && status == 201) {
		v = yajl_tree_parse(body, NULL, 0);
		id = docker_json_str(v, "Id", NULL);
		c->id = id ? strdup(id) : NULL;
		yajl_tree_free(v);
		if (!c->id) {
			create_fail(op, -EBADMSG, "cannot parse Docker's container create answer");
			return;
		}
	}
	if (create_cancelled(op))
		return;
	if (r < 0) {
		create_fail(op, r, error);
		return;
	}
	if (status == 404 && !c->pulled && c->image) {
		/* No such image: pull it, as `docker run` does, then create again. */
		c->pulled = true;
		c->may_create = false;
		path = pull_path(c->image);
		if (!path) {
			create_fail(op, -ENOMEM, NULL);
			return;
		}
		op->on_line = pull_line;
		op->rq_pull = true;
		docker_op_request(op, "POST", path, NULL, step_pulled);
		return;
	}
	if (status != 201) {
		r = docker_http_error(status, body, &msg);
		create_fail(op, r, msg);
		return;
	}
	if (asprintf(&path, "/containers/%s/start", c->id) < 0) {
		path = NULL; /* undefined after a failure */
		create_fail(op, -ENOMEM, NULL);
		return;
	}
	docker_op_request(op, "POST", path, NULL, step_started);
}

static int pull_line(struct docker_op *op, char *line)
{
	struct create_op *c = create_of(op);
	yajl_val v = yajl_tree_parse(line, NULL, 0);
	const char *err, *st, *id, *prog;
	_cleanup_free_ char *text = NULL;
	int r = 0;

	if (!v)
		return 0;
	err = docker_json_str(v, "error", NULL);
	st = docker_json_str(v, "status", NULL);
	id = docker_json_str(v, "id", NULL);
	prog = docker_json_str(v, "progress", NULL);
	if (err && !c->pull_error) {
		c->pull_error = strdup(err);
	} else if (st && c->progress && !prog) {
		/* Lines with a progress bar ("Downloading [=>  ]") repeat many times: skip them. */
		if (!id)
			text = strdup(st);
		else if (asprintf(&text, "%s %s", st, id) < 0)
			text = NULL; /* undefined after a failure */
		if (text) {
			r = strv_push(&c->progress_queue, &c->n_progress, TAKE_PTR(text));
			(void)sd_event_source_set_enabled(op->defer, SD_EVENT_ONESHOT);
		}
	}
	yajl_tree_free(v);
	return r;
}

static void create_deliver_progress(struct docker_op *op)
{
	struct create_op *c = create_of(op);
	struct docker *d = op->d;
	char **q = TAKE_PTR(c->progress_queue);

	c->n_progress = 0;
	d->n_ref++;
	op->n_ref++;
	for (char **p = q; p && *p && !op->cancelled; p++)
		if (c->progress)
			c->progress(d, *p, op->userdata);
	strv_free(q);
	docker_op_unref(op);
	docker_unref(d);
}

static int on_create_defer(sd_event_source *s, void *userdata)
{
	create_deliver_progress(userdata);
	return 0;
}

static void step_pulled(struct docker_op *op, int r, const char *error, long status, char *body)
{
	struct create_op *c = create_of(op);
	_cleanup_free_ char *msg = NULL, *both = NULL;

	op->on_line = NULL;
	op->rq_pull = false;
	/* Deliver what came before the end of the stream first, in order. */
	create_deliver_progress(op);
	if (create_cancelled(op))
		return;
	if (r >= 0 && status != 200)
		r = docker_http_error(status, body, &msg), error = msg;
	else if (r >= 0 && c->pull_error)
		r = -ENOENT, error = c->pull_error;
	if (r < 0) {
		(void)errmsg_set(&both, "image '%s' is not present and pulling it failed: %s",
				 c->image, error ? error : "");
		create_fail(op, r, both);
		return;
	}
	c->may_create = true;
	docker_op_request(op, "POST", c->create_path, c->create_body, step_created);
}

int docker_create_and_start(struct docker *d, const struct docker_run_args *args,
			    const char *const *labels, docker_progress_fn progress,
			    docker_info_fn cb, void *userdata, struct docker_op **ret_op)
{
	_cleanup_free_ char *body = NULL, *path = NULL, *esc = NULL;
	struct create_op *c;
	struct docker_op *op;
	int r;

	if (!args || !args->image || !args->image[0])
		return -EINVAL;
	body = create_body(args, labels);
	if (!body)
		return -ENOMEM;
	if (args->name) {
		esc = docker_url_escape(args->name);
		if (esc && asprintf(&path, "/containers/create?name=%s", esc) < 0)
			path = NULL; /* undefined after a failure */
	} else {
		path = strdup("/containers/create");
	}
	if (!path)
		return -ENOMEM;
	op = docker_op_new(d, &create_kind, userdata);
	if (!op)
		return -ENOMEM;
	c = create_of(op);
	op->cb.info = cb;
	c->progress = progress;
	c->image = strdup(args->image);
	r = c->image ? sd_event_add_defer(d->event, &op->defer, on_create_defer, op) : -ENOMEM;
	if (r < 0) {
		op->cancelled = true;
		docker_op_detach(op);
		return r;
	}
	(void)sd_event_source_set_enabled(op->defer, SD_EVENT_OFF);
	c->create_path = TAKE_PTR(path);
	c->create_body = TAKE_PTR(body);
	c->may_create = true;
	if (ret_op)
		*ret_op = op;
	docker_op_request(op, "POST", c->create_path, c->create_body, step_created);
	return 0;
}
