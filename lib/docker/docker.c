/* SPDX-License-Identifier: MIT */
/*
 * docker.c - Docker Engine API client: operations as small state machines over libcurl multi
 *
 * Every public call makes a struct docker_op. An op runs one HTTP request at a time (its easy
 * handle, response buffer and the step function that gets the result); a step either starts the
 * next request on the same op or completes the op, calling the user's callback once. Requests that
 * need the API version wait on the op list until the first /_ping (the "negotiator") answers.
 * User callbacks never run inside a curl callback: write and header callbacks only store data,
 * streamed lines (events, pull progress) are parsed there into queues that a defer source
 * delivers from the loop. Reference counts keep the struct docker alive while ops run (each op
 * holds one), and an op alive while its own callback runs, so callbacks may cancel ops or free the
 * client. A cancelled create that may already have made a container keeps running silently until
 * the container is removed again: cancelling never leaks a container.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <curl/curl.h>
#include <systemd/sd-event.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "curl-event.h"
#include "docker-args.h"
#include "docker.h"
#include "log.h"

#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
#define DOCKER_API_MAX_MINOR  41 /* we speak 1.41 (dockerd 20.10) and cap there */
#define DOCKER_BODY_MAX	      (8u << 20)
#define DOCKER_LINE_MAX	      (1u << 20)
#define DOCKER_TIMEOUT_USEC   (30ull * 1000000)
#define EVENTS_BACKOFF_MIN    (100ull * 1000)
#define EVENTS_BACKOFF_MAX    (5ull * 1000000)

enum op_kind {
	OP_PING,
	OP_INSPECT,
	OP_CREATE,
	OP_REMOVE,
	OP_LIST,
	OP_EVENTS,
};

struct docker_op;
typedef void (*step_fn)(struct docker_op *op, int r, const char *error, long status, char *body);
typedef int (*line_fn)(struct docker_op *op, char *line);

struct ev_item {
	struct ev_item *next;
	char *action, *id, *name;
	int exit_code;
	int64_t time_nano;
	pid_t pid;
	bool looked_up;
};

struct docker_op {
	struct docker *d;
	struct docker_op *prev, *next; /* in d->ops while active */
	unsigned n_ref;
	enum op_kind kind;
	bool active;	/* in d->ops; the user callback has not run */
	bool cancelled; /* no user callbacks any more */
	void *userdata;
	union {
		docker_ping_fn ping;
		docker_info_fn info;
		docker_done_fn done;
		docker_ids_fn ids;
		docker_event_fn event;
	} cb;
	docker_progress_fn progress;

	/* the current request */
	CURL *easy;
	struct curl_slist *headers;
	step_fn step;
	line_fn on_line; /* streamed 200 responses go line by line here */
	char *rq_method, *rq_path, *rq_body;
	bool rq_stream;	 /* no total timeout */
	bool waiting;	 /* for the API version */
	bool may_create; /* the request may leave a container: cancel must not abort it */
	bool too_big;	 /* response over DOCKER_BODY_MAX / a line over DOCKER_LINE_MAX */
	char *buf;
	size_t len, cap;
	char api_version[16];
	sd_event_source *defer; /* delivers queued lines' results from the loop */

	/* inspect */
	char *ref;
	/* create */
	char *create_path, *create_body, *image;
	char *id;
	bool pulled, cleaning;
	int saved_r;
	char *saved_error;
	char *pull_error;
	char **progress_queue;
	size_t n_progress;
	struct docker_container_info info;
	/* events */
	char *events_filters;
	struct ev_item *ev_head, *ev_tail;
	int64_t ev_last_nano, ev_since_nano;
	bool ev_broken;
	uint64_t ev_backoff;
	sd_event_source *ev_retry;
	struct docker_op *ev_sub; /* the inspect looking up a start event's pid */
};

struct docker {
	unsigned n_ref;
	sd_event *event;
	struct curl_event *ce;
	char *socket_path;
	char api_version[16]; /* "" until negotiated */
	struct docker_op *ops;
	struct docker_op *negotiator;
	uint64_t timeout_usec;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static char *strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static int strv_push(char ***v, size_t *n, char *s)
{
	char **nv;

	if (!s)
		return -ENOMEM;
	nv = realloc(*v, (*n + 2) * sizeof(char *));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

static char *url_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *r = e ? strdup(e) : NULL;

	curl_free(e);
	return r;
}

static yajl_val json_get(yajl_val v, const char *k1, const char *k2, yajl_type t)
{
	const char *path[] = { k1, k2, NULL };

	return v ? yajl_tree_get(v, path, t) : NULL;
}

static const char *json_str(yajl_val v, const char *k1, const char *k2)
{
	yajl_val s = json_get(v, k1, k2, yajl_t_string);

	return s ? YAJL_GET_STRING(s) : NULL;
}

static long long json_int(yajl_val v, const char *k1, const char *k2)
{
	yajl_val n = json_get(v, k1, k2, yajl_t_number);

	return n && YAJL_IS_INTEGER(n) ? YAJL_GET_INTEGER(n) : 0;
}

/* Docker error bodies are {"message":"..."}: that text goes to the user verbatim. */
static int http_error(long status, const char *body, char **ret_msg)
{
	yajl_val v = body ? yajl_tree_parse(body, NULL, 0) : NULL;
	const char *m = json_str(v, "message", NULL);

	if (m)
		*ret_msg = strdup(m);
	else
		*ret_msg = strdup_printf("Docker answered HTTP %ld", status);
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

static void info_done(struct docker_container_info *i)
{
	free(i->id);
	free(i->name);
	strv_free(i->labels);
	*i = (struct docker_container_info){ 0 };
}

static int info_parse(const char *body, struct docker_container_info *ret)
{
	struct docker_container_info i = { 0 };
	yajl_val v, labels, running;
	const char *id, *name;
	size_t n = 0;
	int r = -ENOMEM;

	v = yajl_tree_parse(body, NULL, 0);
	id = json_str(v, "Id", NULL);
	if (!id) {
		yajl_tree_free(v);
		return -EBADMSG;
	}
	name = json_str(v, "Name", NULL);
	if (!name)
		name = "";
	i.id = strdup(id);
	i.name = strdup(name[0] == '/' ? name + 1 : name);
	i.pid = (pid_t)json_int(v, "State", "Pid");
	i.exit_code = (int)json_int(v, "State", "ExitCode");
	running = json_get(v, "State", "Running", yajl_t_any);
	i.running = running && YAJL_IS_TRUE(running);
	if (!i.id || !i.name)
		goto out;
	i.labels = calloc(1, sizeof(char *));
	if (!i.labels)
		goto out;
	labels = json_get(v, "Config", "Labels", yajl_t_object);
	for (size_t k = 0; labels && YAJL_IS_OBJECT(labels) && k < labels->u.object.len; k++) {
		yajl_val lv = labels->u.object.values[k];

		if (strv_push(&i.labels, &n,
			      strdup_printf("%s=%s", labels->u.object.keys[k],
					    YAJL_IS_STRING(lv) ? YAJL_GET_STRING(lv) : "")) < 0)
			goto out;
	}
	*ret = i;
	i = (struct docker_container_info){ 0 };
	r = 0;
out:
	info_done(&i);
	yajl_tree_free(v);
	return r;
}

/* ---- client and op lifetime ------------------------------------------------------------- */

static void docker_unref(struct docker *d)
{
	if (!d || --d->n_ref > 0)
		return;
	assert(!d->ops);
	d->ce = curl_event_free(d->ce);
	sd_event_unref(d->event);
	free(d->socket_path);
	free(d);
}

static void ev_item_free(struct ev_item *it)
{
	free(it->action);
	free(it->id);
	free(it->name);
	free(it);
}

static void op_request_release(struct docker_op *op)
{
	if (op->easy) {
		curl_event_remove(op->d->ce, op->easy);
		curl_easy_cleanup(op->easy);
		op->easy = NULL;
	}
	curl_slist_free_all(op->headers);
	op->headers = NULL;
	op->buf = (free(op->buf), NULL);
	op->len = op->cap = 0;
	op->too_big = false;
}

static void op_unref(struct docker_op *op)
{
	struct docker *d;

	if (!op || --op->n_ref > 0)
		return;
	d = op->d;
	assert(!op->active);
	op_request_release(op);
	free(op->rq_method);
	free(op->rq_path);
	free(op->rq_body);
	(void)sd_event_source_disable_unref(op->defer);
	free(op->ref);
	free(op->create_path);
	free(op->create_body);
	free(op->image);
	free(op->id);
	free(op->saved_error);
	free(op->pull_error);
	strv_free(op->progress_queue);
	info_done(&op->info);
	free(op->events_filters);
	while (op->ev_head) {
		struct ev_item *it = op->ev_head;

		op->ev_head = it->next;
		ev_item_free(it);
	}
	(void)sd_event_source_disable_unref(op->ev_retry);
	free(op);
	docker_unref(d);
}

static struct docker_op *op_new(struct docker *d, enum op_kind kind, void *userdata)
{
	struct docker_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->d = d;
	d->n_ref++;
	op->n_ref = 1; /* held by d->ops while active */
	op->kind = kind;
	op->userdata = userdata;
	op->active = true;
	op->next = d->ops;
	if (d->ops)
		d->ops->prev = op;
	d->ops = op;
	return op;
}

/* Takes @op off the active list and drops that reference; @op may be freed. */
static void op_detach(struct docker_op *op)
{
	struct docker *d = op->d;

	if (!op->active)
		return;
	op->active = false;
	if (op->prev)
		op->prev->next = op->next;
	else
		d->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->prev = op->next = NULL;
	if (d->negotiator == op)
		d->negotiator = NULL;
	op_request_release(op);
	(void)sd_event_source_set_enabled(op->defer, SD_EVENT_OFF);
	(void)sd_event_source_set_enabled(op->ev_retry, SD_EVENT_OFF);
	op_unref(op);
}

/* The final callbacks: each runs the user's callback at most once, then detaches the op. */
static void op_finish_done(struct docker_op *op, int r, const char *error)
{
	struct docker *d = op->d;

	d->n_ref++;
	if (!op->cancelled && op->cb.done)
		op->cb.done(d, r, r < 0 ? error : NULL, op->userdata);
	op->cancelled = true;
	op_detach(op);
	docker_unref(d);
}

static void op_finish_info(struct docker_op *op, int r, const char *error,
			   const struct docker_container_info *info)
{
	struct docker *d = op->d;

	d->n_ref++;
	if (!op->cancelled && op->cb.info)
		op->cb.info(d, r, r < 0 ? error : NULL, r < 0 ? NULL : info, op->userdata);
	op->cancelled = true;
	op_detach(op);
	docker_unref(d);
}

/* ---- HTTP -------------------------------------------------------------------------------- */

static size_t on_curl_header(char *ptr, size_t size, size_t n, void *userdata)
{
	struct docker_op *op = userdata;
	size_t len = size * n;
	static const char key[] = "Api-Version:";

	if (len > sizeof(key) && strncasecmp(ptr, key, sizeof(key) - 1) == 0) {
		const char *v = ptr + sizeof(key) - 1;
		size_t l = len - (sizeof(key) - 1);

		while (l > 0 && (*v == ' ' || *v == '\t'))
			v++, l--;
		while (l > 0 && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' '))
			l--;
		if (l < sizeof(op->api_version)) {
			memcpy(op->api_version, v, l);
			op->api_version[l] = '\0';
		}
	} else if (op->kind == OP_EVENTS && (len == 2 || len == 1) &&
		   (ptr[0] == '\r' || ptr[0] == '\n')) {
		long status = 0;

		/* End of the headers: the stream is up. Tell the user if it had broken. */
		(void)curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200 && op->ev_broken) {
			struct ev_item *it = calloc(1, sizeof(*it));

			if (!it || !(it->action = strdup("reconnect"))) {
				free(it);
				return 0;
			}
			if (op->ev_tail)
				op->ev_tail->next = it;
			else
				op->ev_head = it;
			op->ev_tail = it;
			op->ev_broken = false;
			op->ev_backoff = 0;
			(void)sd_event_source_set_enabled(op->defer, SD_EVENT_ONESHOT);
		}
	}
	return len;
}

static int buf_append(struct docker_op *op, const char *p, size_t len, size_t max)
{
	if (op->len + len + 1 > max) {
		op->too_big = true;
		return -EFBIG;
	}
	if (op->len + len + 1 > op->cap) {
		size_t cap = op->cap ? op->cap : 4096;
		char *nb;

		while (cap < op->len + len + 1)
			cap *= 2;
		nb = realloc(op->buf, cap);
		if (!nb)
			return -ENOMEM;
		op->buf = nb;
		op->cap = cap;
	}
	memcpy(op->buf + op->len, p, len);
	op->len += len;
	op->buf[op->len] = '\0';
	return 0;
}

static size_t on_curl_write(char *ptr, size_t size, size_t n, void *userdata)
{
	struct docker_op *op = userdata;
	size_t len = size * n;
	long status = 0;

	if (op->on_line)
		(void)curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &status);
	if (!op->on_line || status != 200)
		return buf_append(op, ptr, len, DOCKER_BODY_MAX) < 0 ? 0 : len;

	/* Streamed: complete lines are handled now, the rest waits for more data. */
	if (buf_append(op, ptr, len, DOCKER_LINE_MAX) < 0)
		return 0;
	for (;;) {
		char *nl = memchr(op->buf, '\n', op->len);
		size_t used;

		if (!nl)
			break;
		*nl = '\0';
		if (op->on_line(op, op->buf) < 0)
			return 0;
		used = (size_t)(nl - op->buf) + 1;
		memmove(op->buf, op->buf + used, op->len - used + 1);
		op->len -= used;
	}
	return len;
}

static char *transport_error(struct docker_op *op, int r, const char *curl_msg)
{
	const char *path = op->d->socket_path;

	switch (r) {
	case -ETIMEDOUT:
		return strdup_printf("Docker daemon at '%s' did not answer %s %s within %" PRIu64
				     " ms",
				     path, op->rq_method, op->rq_path, op->d->timeout_usec / 1000);
	case -EFBIG:
		return strdup_printf("Docker's answer to %s %s is too large", op->rq_method,
				     op->rq_path);
	case -ENOENT:
	case -ECONNREFUSED:
	case -EACCES:
	case -EPERM:
		return strdup_printf("cannot connect to the Docker daemon at '%s': %s", path,
				     strerror(-r));
	default:
		return strdup_printf("Docker request %s %s failed: %s", op->rq_method, op->rq_path,
				     curl_msg ? curl_msg : strerror(-r));
	}
}

static void on_xfer_done(CURL *easy, int r, const char *curl_msg, void *userdata)
{
	struct docker_op *op = userdata;
	_cleanup_free_ char *body = NULL, *msg = NULL;
	long status = 0;
	step_fn step = op->step;

	op->n_ref++;
	(void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (op->too_big)
		r = -EFBIG;
	if (r < 0) {
		msg = transport_error(op, r, curl_msg);
		log_debug("docker: %s", msg ? msg : "request failed");
	}
	body = TAKE_PTR(op->buf);
	op->len = op->cap = 0;
	op_request_release(op);
	step(op, r, r < 0 ? (msg ? msg : strerror(-r)) : NULL, status, body);
	op_unref(op);
}

static int op_submit(struct docker_op *op)
{
	struct docker *d = op->d;
	_cleanup_free_ char *url = NULL;
	uint64_t timeout = d->timeout_usec;
	bool versioned = strcmp(op->rq_path, "/_ping") != 0;
	CURL *c;
	int r;

	url = strdup_printf("http://docker%s%s%s", versioned ? "/v" : "",
			    versioned ? d->api_version : "", op->rq_path);
	if (!url)
		return -ENOMEM;
	op->api_version[0] = '\0';
	c = op->easy = curl_easy_init();
	if (!c)
		return -ENOMEM;
	if (op->kind == OP_CREATE && !op->id && strncmp(op->rq_path, "/images/", 8) == 0)
		timeout *= 20; /* a pull */
	if (op->rq_body) {
		op->headers = curl_slist_append(NULL, "Content-Type: application/json");
		if (!op->headers)
			return -ENOMEM;
	}
	if (curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, d->socket_path) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_curl_write) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, op) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_curl_header) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERDATA, op) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(d->timeout_usec / 1000)) !=
		    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, op->rq_stream ? 0L : (long)(timeout / 1000)) !=
		    CURLE_OK)
		return -ENOMEM;
	if (strcmp(op->rq_method, "POST") == 0) {
		const char *b = op->rq_body ? op->rq_body : "";

		if (curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(b)) != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, b) != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_HTTPHEADER, op->headers) != CURLE_OK)
			return -ENOMEM;
	} else if (strcmp(op->rq_method, "GET") != 0) {
		if (curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, op->rq_method) != CURLE_OK)
			return -ENOMEM;
	}
	r = curl_event_add(d->ce, c, on_xfer_done, op);
	if (r < 0)
		return r;
	log_debug("docker: %s %s", op->rq_method, url);
	return 0;
}

static void on_negotiated(struct docker *d, int r, const char *error);

/*
 * Starts a request on @op; @step gets the result. Paths are unversioned: the version is added
 * once it is known. On an immediate failure @step runs with the error before this returns.
 */
static void op_request(struct docker_op *op, const char *method, const char *path, const char *body,
		       step_fn step)
{
	struct docker *d = op->d;
	int r;

	op_request_release(op);
	free(op->rq_method);
	free(op->rq_path);
	free(op->rq_body);
	op->rq_method = strdup(method);
	op->rq_path = strdup(path);
	op->rq_body = body ? strdup(body) : NULL;
	op->step = step;
	if (!op->rq_method || !op->rq_path || (body && !op->rq_body)) {
		r = -ENOMEM;
		goto fail;
	}
	if (!d->api_version[0] && strcmp(path, "/_ping") != 0) {
		op->waiting = true;
		if (!d->negotiator) {
			r = docker_ping(d, NULL, NULL, &d->negotiator);
			if (r < 0) {
				op->waiting = false;
				goto fail;
			}
		}
		return;
	}
	r = op_submit(op);
	if (r < 0)
		goto fail;
	return;
fail:
	op_request_release(op);
	op->n_ref++;
	step(op, r, strerror(-r), 0, NULL);
	op_unref(op);
}

/*
 * The API version is known (or cannot be): send (or fail) every request waiting for it. The caller
 * holds a reference on @d, which keeps it alive through the waiters' callbacks. (Taking one here
 * as well made gcc -O2 inline two docker_unref() calls in a row and warn -Wuse-after-free about
 * the second: it cannot know that the first never frees while the caller's reference is held.)
 */
static void on_negotiated(struct docker *d, int r, const char *error)
{
	struct docker_op *op;

	/* Each waiter's step may cancel others or drop the user's reference: rescan from the start. */
	for (;;) {
		for (op = d->ops; op && !op->waiting; op = op->next)
			;
		if (!op)
			break;
		op->waiting = false;
		if (r < 0) {
			op->n_ref++;
			op->step(op, r, error, 0, NULL);
			op_unref(op);
		} else {
			int k = op_submit(op);

			if (k < 0) {
				op_request_release(op);
				op->n_ref++;
				op->step(op, k, strerror(-k), 0, NULL);
				op_unref(op);
			}
		}
	}
}

/* ---- ping -------------------------------------------------------------------------------- */

/* The minor of an "Api-Version: 1.N" header; -EINVAL for any other major, a sign or garbage. */
static int api_minor_parse(const char *s, unsigned *ret)
{
	unsigned long v;
	char *end;

	if (strncmp(s, "1.", 2) != 0 || s[2] < '0' || s[2] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s + 2, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT_MAX)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static void step_ping(struct docker_op *op, int r, const char *error, long status, char *body)
{
	struct docker *d = op->d;
	_cleanup_free_ char *msg = NULL;
	bool negotiator = d->negotiator == op;
	unsigned minor = 0;

	if (r >= 0 && status != 200) {
		r = http_error(status, body, &msg);
		error = msg ? msg : "out of memory";
	}
	/* min(daemon, 1.41), as docker's own client negotiates */
	if (r >= 0 && !d->api_version[0]) {
		if (api_minor_parse(op->api_version, &minor) < 0 || minor > DOCKER_API_MAX_MINOR)
			minor = DOCKER_API_MAX_MINOR;
		(void)snprintf(d->api_version, sizeof(d->api_version), "1.%u", minor);
		log_debug("docker: API version %s (daemon: '%s')", d->api_version, op->api_version);
	}
	d->n_ref++; /* the callback may drop the user's reference; on_negotiated() needs @d */
	if (!op->cancelled && op->cb.ping)
		op->cb.ping(d, r, r < 0 ? error : NULL, r < 0 ? NULL : d->api_version,
			    op->userdata);
	op->cancelled = true;
	op_detach(op);
	/* Any successful ping lets the waiters go; a failed negotiation fails them. */
	if (r >= 0 || negotiator)
		on_negotiated(d, r, error);
	docker_unref(d);
}

int docker_ping(struct docker *d, docker_ping_fn cb, void *userdata, struct docker_op **ret_op)
{
	struct docker_op *op = op_new(d, OP_PING, userdata);

	if (!op)
		return -ENOMEM;
	op->cb.ping = cb;
	op->rq_method = strdup("GET");
	op->rq_path = strdup("/_ping");
	op->step = step_ping;
	if (!op->rq_method || !op->rq_path || op_submit(op) < 0) {
		op->cancelled = true;
		op_detach(op);
		return -ENOMEM;
	}
	if (ret_op)
		*ret_op = op;
	return 0;
}

/* {"KEY":["VALUE"]} URL-escaped */
static char *filter_one(const char *key, const char *value)
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
		r = url_escape(json);
	return r;
}

/* ---- inspect ----------------------------------------------------------------------------- */

static void step_inspect_ambiguous(struct docker_op *op, int r, const char *error, long status,
				   char *body)
{
	_cleanup_free_ char *msg = NULL;
	yajl_val v = NULL;
	FILE *f;
	size_t size = 0, nmatch = 0;

	if (r >= 0 && status == 200)
		v = yajl_tree_parse(body, NULL, 0);
	f = open_memstream(&msg, &size);
	if (!f) {
		yajl_tree_free(v);
		op_finish_info(op, -ENOMEM, "out of memory", NULL);
		return;
	}
	fprintf(f, "ambiguous container prefix '%s'", op->ref);
	if (v && YAJL_IS_ARRAY(v)) {
		for (size_t i = 0; i < YAJL_GET_ARRAY(v)->len; i++) {
			yajl_val c = YAJL_GET_ARRAY(v)->values[i];
			const char *id = json_str(c, "Id", NULL);
			yajl_val names = json_get(c, "Names", NULL, yajl_t_array);
			const char *name = NULL;

			if (names && YAJL_IS_ARRAY(names) && names->u.array.len > 0 &&
			    YAJL_IS_STRING(names->u.array.values[0]))
				name = YAJL_GET_STRING(names->u.array.values[0]);
			if (!id || strncmp(id, op->ref, strlen(op->ref)) != 0)
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
		op_finish_info(op, -ENOMEM, "out of memory", NULL);
		return;
	}
	op_finish_info(op, -EINVAL, msg, NULL);
}

static void step_inspect(struct docker_op *op, int r, const char *error, long status, char *body)
{
	_cleanup_free_ char *msg = NULL;
	struct docker_container_info info = { 0 };

	if (r < 0) {
		op_finish_info(op, r, error, NULL);
		return;
	}
	if (status != 200) {
		r = http_error(status, body, &msg);
		/* dockerd 20.10 answers 500 "Multiple IDs found with provided prefix: ab" */
		if (msg && strstr(msg, "Multiple IDs found")) {
			/* dockerd 20.10's id filter finds nothing for an ambiguous prefix: list all */
			op_request(op, "GET", "/containers/json?all=1", NULL,
				   step_inspect_ambiguous);
			return;
		}
		op_finish_info(op, r, msg ? msg : "out of memory", NULL);
		return;
	}
	r = info_parse(body, &info);
	if (r < 0) {
		op_finish_info(op, r, "cannot parse Docker's container inspect answer", NULL);
		return;
	}
	op_finish_info(op, 0, NULL, &info);
	info_done(&info);
}

int docker_inspect(struct docker *d, const char *ref, docker_info_fn cb, void *userdata,
		   struct docker_op **ret_op)
{
	_cleanup_free_ char *esc = NULL, *path = NULL;
	struct docker_op *op;

	if (!ref || !ref[0])
		return -EINVAL;
	esc = url_escape(ref);
	path = esc ? strdup_printf("/containers/%s/json", esc) : NULL;
	if (!path)
		return -ENOMEM;
	op = op_new(d, OP_INSPECT, userdata);
	if (!op)
		return -ENOMEM;
	op->cb.info = cb;
	op->ref = strdup(ref);
	if (!op->ref) {
		op->cancelled = true;
		op_detach(op);
		return -ENOMEM;
	}
	if (ret_op)
		*ret_op = op;
	op_request(op, "GET", path, NULL, step_inspect);
	return 0;
}

/* ---- remove and list --------------------------------------------------------------------- */

static void step_remove(struct docker_op *op, int r, const char *error, long status, char *body)
{
	_cleanup_free_ char *msg = NULL;

	if (r >= 0 && status != 204 && status != 200 && status != 404) {
		r = http_error(status, body, &msg);
		error = msg ? msg : "out of memory";
	}
	op_finish_done(op, r < 0 ? r : 0, error);
}

static char *remove_path(const char *id)
{
	_cleanup_free_ char *esc = url_escape(id);

	return esc ? strdup_printf("/containers/%s?force=1&v=1", esc) : NULL;
}

int docker_remove(struct docker *d, const char *id, docker_done_fn cb, void *userdata,
		  struct docker_op **ret_op)
{
	_cleanup_free_ char *path = NULL;
	struct docker_op *op;

	if (!id || !id[0])
		return -EINVAL;
	path = remove_path(id);
	if (!path)
		return -ENOMEM;
	op = op_new(d, OP_REMOVE, userdata);
	if (!op)
		return -ENOMEM;
	op->cb.done = cb;
	if (ret_op)
		*ret_op = op;
	op_request(op, "DELETE", path, NULL, step_remove);
	return 0;
}

static void step_list(struct docker_op *op, int r, const char *error, long status, char *body)
{
	struct docker *d = op->d;
	_cleanup_free_ char *msg = NULL;
	char **ids = NULL;
	size_t n = 0;
	yajl_val v;

	if (r >= 0 && status != 200) {
		r = http_error(status, body, &msg);
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
		const char *id = json_str(YAJL_GET_ARRAY(v)->values[i], "Id", NULL);

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
	op_detach(op);
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
	filters = filter_one("label", label);
	path = filters ? strdup_printf("/containers/json?all=1&filters=%s", filters) : NULL;
	if (!path)
		return -ENOMEM;
	op = op_new(d, OP_LIST, userdata);
	if (!op)
		return -ENOMEM;
	op->cb.ids = cb;
	if (ret_op)
		*ret_op = op;
	op_request(op, "GET", path, NULL, step_list);
	return 0;
}

/* ---- create and start -------------------------------------------------------------------- */

#define GEN_OK(x) ((x) == yajl_gen_status_ok)

static bool gen_str(yajl_gen g, const char *s)
{
	return GEN_OK(yajl_gen_string(g, (const unsigned char *)s, strlen(s)));
}

static bool gen_strv(yajl_gen g, const char *key, char *const *v)
{
	if (!v)
		return true;
	if (!gen_str(g, key) || !GEN_OK(yajl_gen_array_open(g)))
		return false;
	for (; *v; v++)
		if (!gen_str(g, *v))
			return false;
	return GEN_OK(yajl_gen_array_close(g));
}

static bool gen_label(yajl_gen g, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);

	return GEN_OK(yajl_gen_string(g, (const unsigned char *)kv, klen)) &&
	       gen_str(g, eq ? eq + 1 : "");
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
	ok = GEN_OK(yajl_gen_map_open(g)) && gen_str(g, "Image") && gen_str(g, a->image) &&
	     gen_strv(g, "Cmd", a->cmd) && gen_strv(g, "Env", a->env);
	if (ok && a->entrypoint) {
		/* "" clears the image's entrypoint: Docker wants [""] for that, as its CLI sends */
		ok = gen_str(g, "Entrypoint") && GEN_OK(yajl_gen_array_open(g)) &&
		     gen_str(g, a->entrypoint) && GEN_OK(yajl_gen_array_close(g));
	}
	if (ok && a->workdir)
		ok = gen_str(g, "WorkingDir") && gen_str(g, a->workdir);
	if (ok && a->user)
		ok = gen_str(g, "User") && gen_str(g, a->user);
	ok = ok && gen_str(g, "Labels") && GEN_OK(yajl_gen_map_open(g));
	for (char **v = a->labels; ok && v && *v; v++)
		ok = gen_label(g, *v);
	for (const char *const *v = labels; ok && v && *v; v++)
		ok = gen_label(g, *v); /* after the user's: ours win on a duplicate key */
	ok = ok && GEN_OK(yajl_gen_map_close(g));
	if (ok && nanon > 0) {
		ok = gen_str(g, "Volumes") && GEN_OK(yajl_gen_map_open(g));
		for (char **v = a->volumes; ok && *v; v++)
			if (!strchr(*v, ':'))
				ok = gen_str(g, *v) && GEN_OK(yajl_gen_map_open(g)) &&
				     GEN_OK(yajl_gen_map_close(g));
		ok = ok && GEN_OK(yajl_gen_map_close(g));
	}
	ok = ok && gen_str(g, "HostConfig") && GEN_OK(yajl_gen_map_open(g));
	if (ok && nbind > 0) {
		ok = gen_str(g, "Binds") && GEN_OK(yajl_gen_array_open(g));
		for (char **v = a->volumes; ok && *v; v++)
			if (strchr(*v, ':'))
				ok = gen_str(g, *v);
		ok = ok && GEN_OK(yajl_gen_array_close(g));
	}
	if (ok && a->network)
		ok = gen_str(g, "NetworkMode") && gen_str(g, a->network);
	if (ok && a->init)
		ok = gen_str(g, "Init") && GEN_OK(yajl_gen_bool(g, 1));
	ok = ok && gen_str(g, "AutoRemove") && GEN_OK(yajl_gen_bool(g, 0)) &&
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
	erepo = url_escape(repo);
	etag = url_escape(tag);
	if (!erepo || !etag)
		return NULL;
	return strdup_printf("/images/create?fromImage=%s&tag=%s", erepo, etag);
}

static void create_finish(struct docker_op *op);

static void step_cleaned(struct docker_op *op, int r, const char *error, long status, char *body)
{
	_cleanup_free_ char *msg = NULL, *both = NULL;

	if (r >= 0 && status != 204 && status != 200 && status != 404)
		r = http_error(status, body, &msg), error = msg;
	if (r < 0) {
		log_debug("docker: removing container %.12s failed: %s", op->id, error);
		both = strdup_printf("%s (and removing container %.12s failed: %s)",
				     op->saved_error ? op->saved_error : "", op->id,
				     error ? error : "");
		if (both) {
			free(op->saved_error);
			op->saved_error = TAKE_PTR(both);
		}
	}
	op->id = (free(op->id), NULL);
	create_finish(op);
}

/* Records the first error and removes the container if there is one; then reports. */
static void create_fail(struct docker_op *op, int r, const char *error)
{
	_cleanup_free_ char *path = NULL;

	if (op->saved_r == 0) {
		op->saved_r = r;
		op->saved_error = strdup(error ? error : strerror(-r));
	}
	if (!op->id || op->cleaning) {
		create_finish(op);
		return;
	}
	op->cleaning = true;
	op->may_create = true;
	path = remove_path(op->id);
	if (!path) {
		create_finish(op);
		return;
	}
	op_request(op, "DELETE", path, NULL, step_cleaned);
}

static void create_finish(struct docker_op *op)
{
	if (op->saved_r < 0)
		op_finish_info(op, op->saved_r, op->saved_error ? op->saved_error : "out of memory",
			       NULL);
	else
		op_finish_info(op, 0, NULL, &op->info);
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
	_cleanup_free_ char *msg = NULL;

	if (create_cancelled(op))
		return;
	if (r >= 0 && status != 200)
		r = http_error(status, body, &msg), error = msg;
	if (r >= 0 && info_parse(body, &op->info) < 0)
		r = -EBADMSG, error = "cannot parse Docker's container inspect answer";
	if (r < 0) {
		create_fail(op, r, error);
		return;
	}
	if (!op->info.running || op->info.pid <= 0) {
		msg = strdup_printf("container '%s' exited right after start (exit code %d)",
				    op->info.name, op->info.exit_code);
		create_fail(op, -ESRCH, msg);
		return;
	}
	op->may_create = false;
	op_finish_info(op, 0, NULL, &op->info);
}

static void step_started(struct docker_op *op, int r, const char *error, long status, char *body)
{
	_cleanup_free_ char *msg = NULL, *path = NULL;

	if (create_cancelled(op))
		return;
	if (r >= 0 && status != 204 && status != 304)
		r = http_error(status, body, &msg), error = msg;
	if (r < 0) {
		create_fail(op, r, error);
		return;
	}
	path = strdup_printf("/containers/%s/json", op->id);
	if (!path) {
		create_fail(op, -ENOMEM, NULL);
		return;
	}
	op_request(op, "GET", path, NULL, step_create_inspected);
}

static void step_pulled(struct docker_op *op, int r, const char *error, long status, char *body);
static int pull_line(struct docker_op *op, char *line);

static void step_created(struct docker_op *op, int r, const char *error, long status, char *body)
{
	_cleanup_free_ char *msg = NULL, *path = NULL;
	yajl_val v;
	const char *id;

	if (r >= 0 && status == 201) {
		v = yajl_tree_parse(body, NULL, 0);
		id = json_str(v, "Id", NULL);
		op->id = id ? strdup(id) : NULL;
		yajl_tree_free(v);
		if (!op->id) {
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
	if (status == 404 && !op->pulled && op->image) {
		/* No such image: pull it, as `docker run` does, then create again. */
		op->pulled = true;
		op->may_create = false;
		path = pull_path(op->image);
		if (!path) {
			create_fail(op, -ENOMEM, NULL);
			return;
		}
		op->on_line = pull_line;
		op_request(op, "POST", path, NULL, step_pulled);
		return;
	}
	if (status != 201) {
		r = http_error(status, body, &msg);
		create_fail(op, r, msg);
		return;
	}
	path = strdup_printf("/containers/%s/start", op->id);
	if (!path) {
		create_fail(op, -ENOMEM, NULL);
		return;
	}
	op_request(op, "POST", path, NULL, step_started);
}

static int pull_line(struct docker_op *op, char *line)
{
	yajl_val v = yajl_tree_parse(line, NULL, 0);
	const char *err, *st, *id, *prog;
	_cleanup_free_ char *text = NULL;
	int r = 0;

	if (!v)
		return 0;
	err = json_str(v, "error", NULL);
	st = json_str(v, "status", NULL);
	id = json_str(v, "id", NULL);
	prog = json_str(v, "progress", NULL);
	if (err && !op->pull_error) {
		op->pull_error = strdup(err);
	} else if (st && op->progress && !prog) {
		/* Lines with a progress bar ("Downloading [=>  ]") repeat many times: skip them. */
		text = id ? strdup_printf("%s %s", st, id) : strdup(st);
		if (text) {
			r = strv_push(&op->progress_queue, &op->n_progress, TAKE_PTR(text));
			(void)sd_event_source_set_enabled(op->defer, SD_EVENT_ONESHOT);
		}
	}
	yajl_tree_free(v);
	return r;
}

static void create_deliver_progress(struct docker_op *op)
{
	struct docker *d = op->d;
	char **q = TAKE_PTR(op->progress_queue);

	op->n_progress = 0;
	d->n_ref++;
	op->n_ref++;
	for (char **p = q; p && *p && !op->cancelled; p++)
		if (op->progress)
			op->progress(d, *p, op->userdata);
	strv_free(q);
	op_unref(op);
	docker_unref(d);
}

static int on_create_defer(sd_event_source *s, void *userdata)
{
	create_deliver_progress(userdata);
	return 0;
}

static void step_pulled(struct docker_op *op, int r, const char *error, long status, char *body)
{
	_cleanup_free_ char *msg = NULL, *both = NULL;

	op->on_line = NULL;
	/* Deliver what came before the end of the stream first, in order. */
	create_deliver_progress(op);
	if (create_cancelled(op))
		return;
	if (r >= 0 && status != 200)
		r = http_error(status, body, &msg), error = msg;
	else if (r >= 0 && op->pull_error)
		r = -ENOENT, error = op->pull_error;
	if (r < 0) {
		both = strdup_printf("image '%s' is not present and pulling it failed: %s",
				     op->image, error ? error : "");
		create_fail(op, r, both);
		return;
	}
	op->may_create = true;
	op_request(op, "POST", op->create_path, op->create_body, step_created);
}

int docker_create_and_start(struct docker *d, const struct docker_run_args *args,
			    const char *const *labels, docker_progress_fn progress,
			    docker_info_fn cb, void *userdata, struct docker_op **ret_op)
{
	_cleanup_free_ char *body = NULL, *path = NULL, *esc = NULL;
	struct docker_op *op;
	int r;

	if (!args || !args->image || !args->image[0])
		return -EINVAL;
	body = create_body(args, labels);
	if (!body)
		return -ENOMEM;
	if (args->name) {
		esc = url_escape(args->name);
		path = esc ? strdup_printf("/containers/create?name=%s", esc) : NULL;
	} else {
		path = strdup("/containers/create");
	}
	if (!path)
		return -ENOMEM;
	op = op_new(d, OP_CREATE, userdata);
	if (!op)
		return -ENOMEM;
	op->cb.info = cb;
	op->progress = progress;
	op->image = strdup(args->image);
	r = op->image ? sd_event_add_defer(d->event, &op->defer, on_create_defer, op) : -ENOMEM;
	if (r < 0) {
		op->cancelled = true;
		op_detach(op);
		return r;
	}
	(void)sd_event_source_set_enabled(op->defer, SD_EVENT_OFF);
	op->create_path = TAKE_PTR(path);
	op->create_body = TAKE_PTR(body);
	op->may_create = true;
	if (ret_op)
		*ret_op = op;
	op_request(op, "POST", op->create_path, op->create_body, step_created);
	return 0;
}

/* ---- events ------------------------------------------------------------------------------ */

static void events_connect(struct docker_op *op);

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

static int events_line(struct docker_op *op, char *line)
{
	yajl_val v = yajl_tree_parse(line, NULL, 0);
	const char *type, *action, *id, *name, *code;
	struct ev_item *it;
	int64_t t;

	if (!v)
		return 0; /* not JSON: skip it, the stream goes on */
	type = json_str(v, "Type", NULL);
	action = json_str(v, "Action", NULL);
	if (!action)
		action = json_str(v, "status", NULL);
	id = json_str(v, "Actor", "ID");
	if (!id)
		id = json_str(v, "id", NULL);
	t = json_int(v, "timeNano", NULL);
	if ((type && strcmp(type, "container") != 0) || !action || !id ||
	    (t > 0 && t <= op->ev_last_nano)) {
		/* not ours, or replayed by since= after a reconnect */
		yajl_tree_free(v);
		return 0;
	}
	if (t > 0)
		op->ev_last_nano = t;
	it = calloc(1, sizeof(*it));
	if (!it) {
		yajl_tree_free(v);
		return -ENOMEM;
	}
	{
		const char *np[] = { "Actor", "Attributes", "name", NULL };
		const char *cp[] = { "Actor", "Attributes", "exitCode", NULL };
		yajl_val nv = yajl_tree_get(v, np, yajl_t_string);
		yajl_val cv = yajl_tree_get(v, cp, yajl_t_string);

		name = nv ? YAJL_GET_STRING(nv) : NULL;
		code = cv ? YAJL_GET_STRING(cv) : NULL;
	}
	it->action = strdup(action);
	it->id = strdup(id);
	it->name = name ? strdup(name) : NULL;
	if (!code || exit_code_parse(code, &it->exit_code) < 0)
		it->exit_code = 0; /* absent or not a number: unknown, as for other actions */
	it->time_nano = t;
	yajl_tree_free(v);
	if (!it->action || !it->id || (name && !it->name)) {
		ev_item_free(it);
		return -ENOMEM;
	}
	if (op->ev_tail)
		op->ev_tail->next = it;
	else
		op->ev_head = it;
	op->ev_tail = it;
	(void)sd_event_source_set_enabled(op->defer, SD_EVENT_ONESHOT);
	return 0;
}

static void on_event_inspected(struct docker *d, int r, const char *error,
			       const struct docker_container_info *info, void *userdata)
{
	struct docker_op *op = userdata;

	op->ev_sub = NULL;
	if (op->ev_head) {
		op->ev_head->pid = r >= 0 && info->running ? info->pid : 0;
		op->ev_head->looked_up = true;
	}
	(void)sd_event_source_set_enabled(op->defer, SD_EVENT_ONESHOT);
}

static int on_events_defer(sd_event_source *s, void *userdata)
{
	struct docker_op *op = userdata;
	struct docker *d = op->d;

	d->n_ref++;
	op->n_ref++;
	while (op->ev_head && !op->ev_sub && !op->cancelled) {
		struct ev_item *it = op->ev_head;
		struct docker_event ev;

		if (strcmp(it->action, "start") == 0 && !it->looked_up) {
			/* The pid is not in the event: look it up before delivering, in order. */
			if (docker_inspect(d, it->id, on_event_inspected, op, &op->ev_sub) < 0) {
				op->ev_sub = NULL;
				it->looked_up = true;
			}
			continue;
		}
		op->ev_head = it->next;
		if (!op->ev_head)
			op->ev_tail = NULL;
		ev = (struct docker_event){ .action = it->action,
					    .id = it->id,
					    .name = it->name,
					    .pid = it->pid,
					    .exit_code = it->exit_code,
					    .time_nano = it->time_nano };
		if (op->cb.event)
			op->cb.event(d, &ev, op->userdata);
		ev_item_free(it);
	}
	op_unref(op);
	docker_unref(d);
	return 0;
}

static int on_events_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	events_connect(userdata);
	return 0;
}

static void step_events(struct docker_op *op, int r, const char *error, long status, char *body)
{
	int k;

	/* The stream never ends on its own: dockerd went away, or refused the request. */
	op->on_line = NULL;
	if (op->cancelled)
		return;
	if (r >= 0 && status != 200) {
		_cleanup_free_ char *msg = NULL;

		(void)http_error(status, body, &msg);
		log_debug("docker: events stream refused: %s", msg ? msg : "?");
	} else {
		log_debug("docker: events stream ended: %s", r < 0 ? error : "end of stream");
	}
	op->ev_broken = true;
	op->ev_backoff = op->ev_backoff ? op->ev_backoff * 2 : EVENTS_BACKOFF_MIN;
	if (op->ev_backoff > EVENTS_BACKOFF_MAX)
		op->ev_backoff = EVENTS_BACKOFF_MAX;
	if (!op->ev_retry)
		k = sd_event_add_time_relative(op->d->event, &op->ev_retry, CLOCK_MONOTONIC,
					       op->ev_backoff, 1000, on_events_retry, op);
	else {
		k = sd_event_source_set_time_relative(op->ev_retry, op->ev_backoff);
		if (k >= 0)
			k = sd_event_source_set_enabled(op->ev_retry, SD_EVENT_ONESHOT);
	}
	if (k < 0)
		log_debug_errno(k, "docker: cannot arm the events reconnect timer");
}

static void events_connect(struct docker_op *op)
{
	_cleanup_free_ char *path = NULL;
	int64_t since = op->ev_last_nano > 0 ? op->ev_last_nano : op->ev_since_nano;

	path = strdup_printf("/events?filters=%s&since=%" PRId64 ".%09" PRId64, op->events_filters,
			     since / 1000000000, since % 1000000000);
	if (!path) {
		step_events(op, -ENOMEM, "out of memory", 0, NULL);
		return;
	}
	op->rq_stream = true;
	op->on_line = events_line;
	op_request(op, "GET", path, NULL, step_events);
}

static char *events_filters(const struct docker_events_filter *f)
{
	static const char *const default_actions[] = { "start", "die", "destroy", NULL };
	const char *const *actions = f && f->actions ? f->actions : default_actions;
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	bool ok;
	char *json = NULL, *r;

	if (!g)
		return NULL;
	ok = GEN_OK(yajl_gen_map_open(g)) && gen_str(g, "type") && GEN_OK(yajl_gen_array_open(g)) &&
	     gen_str(g, "container") && GEN_OK(yajl_gen_array_close(g)) && gen_str(g, "event") &&
	     GEN_OK(yajl_gen_array_open(g));
	for (const char *const *a = actions; ok && *a; a++)
		ok = gen_str(g, *a);
	ok = ok && GEN_OK(yajl_gen_array_close(g));
	if (ok && f && f->label)
		ok = gen_str(g, "label") && GEN_OK(yajl_gen_array_open(g)) &&
		     gen_str(g, f->label) && GEN_OK(yajl_gen_array_close(g));
	if (ok && f && f->container)
		ok = gen_str(g, "container") && GEN_OK(yajl_gen_array_open(g)) &&
		     gen_str(g, f->container) && GEN_OK(yajl_gen_array_close(g));
	ok = ok && GEN_OK(yajl_gen_map_close(g));
	if (ok && GEN_OK(yajl_gen_get_buf(g, &buf, &len)))
		json = strndup((const char *)buf, len);
	yajl_gen_free(g);
	r = json ? url_escape(json) : NULL;
	free(json);
	return r;
}

int docker_events(struct docker *d, const struct docker_events_filter *filter, docker_event_fn cb,
		  void *userdata, struct docker_op **ret_op)
{
	struct docker_op *op;
	struct timespec ts;
	int r;

	if (!ret_op || !cb)
		return -EINVAL;
	op = op_new(d, OP_EVENTS, userdata);
	if (!op)
		return -ENOMEM;
	op->cb.event = cb;
	op->events_filters = events_filters(filter);
	r = op->events_filters ? sd_event_add_defer(d->event, &op->defer, on_events_defer, op)
			       : -ENOMEM;
	if (r < 0) {
		op->cancelled = true;
		op_detach(op);
		return r;
	}
	(void)sd_event_source_set_enabled(op->defer, SD_EVENT_OFF);
	/* since= now: after a break, the reconnect asks for what happened since we started */
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	op->ev_since_nano = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	*ret_op = op;
	events_connect(op);
	return 0;
}

/* ---- public lifetime --------------------------------------------------------------------- */

void docker_op_cancel(struct docker_op *op)
{
	if (!op || op->cancelled || !op->active)
		return;
	op->cancelled = true;
	if (op->kind == OP_EVENTS && op->ev_sub) {
		struct docker_op *sub = TAKE_PTR(op->ev_sub);

		docker_op_cancel(sub);
	}
	/* A create whose request may leave a container goes on, silently, until it is removed. */
	if (op->kind == OP_CREATE && op->may_create && !op->waiting && op->easy)
		return;
	op->waiting = false;
	op_detach(op);
}

int docker_new(sd_event *e, const char *host, struct docker **ret)
{
	struct docker *d;
	const char *path;
	int r;

	if (!host || !host[0])
		host = getenv("DOCKER_HOST");
	if (!host || !host[0])
		host = "unix://" DOCKER_DEFAULT_SOCKET;
	if (strncmp(host, "unix://", 7) == 0)
		path = host + 7;
	else if (host[0] == '/')
		path = host;
	else
		return -EPROTONOSUPPORT;
	if (!path[0])
		return -EINVAL;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return -ENAMETOOLONG;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->n_ref = 1;
	d->event = sd_event_ref(e);
	d->timeout_usec = DOCKER_TIMEOUT_USEC;
	d->socket_path = strdup(path);
	r = d->socket_path ? curl_event_new(e, &d->ce) : -ENOMEM;
	if (r < 0) {
		docker_unref(d);
		return r;
	}
	*ret = d;
	return 0;
}

struct docker *docker_free(struct docker *d)
{
	struct docker_op *op;

	if (!d)
		return NULL;
	/* The user's reference keeps d alive through the cancellations. */
	for (;;) {
		for (op = d->ops; op && op->cancelled; op = op->next)
			;
		if (!op)
			break;
		docker_op_cancel(op);
	}
	docker_unref(d);
	return NULL;
}

unsigned docker_pending(const struct docker *d)
{
	unsigned n = 0;

	for (const struct docker_op *op = d->ops; op; op = op->next)
		n++;
	return n;
}

void docker_set_timeout(struct docker *d, uint64_t usec)
{
	d->timeout_usec = usec > 0 ? usec : DOCKER_TIMEOUT_USEC;
}

const char *docker_socket_path(const struct docker *d)
{
	return d->socket_path;
}
