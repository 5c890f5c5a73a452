/* SPDX-License-Identifier: MIT */
/*
 * docker.c - Docker Engine API client: the client, the op base and the request plumbing
 *
 * Every public call makes an op: a struct of its kind (docker-inspect.c, docker-create.c,
 * docker-events.c) embedding struct docker_op (docker-internal.h). An op runs one HTTP request at
 * a time (its easy handle, response buffer and the step function that gets the result); a step
 * either starts the next request on the same op or completes the op, calling the user's callback
 * once. Requests that need the API version wait on the op list until the first /_ping (the
 * "negotiator") answers. User callbacks never run inside a curl callback: write and header
 * callbacks only store data, streamed lines (events, pull progress) are parsed there into queues
 * that a defer source delivers from the loop. Reference counts keep the struct docker alive while
 * ops run (each op holds one), and an op alive while its own callback runs, so callbacks may
 * cancel ops or free the client. A kind whose op must outlive a cancel (a create that may already
 * have made a container) says so through its cancel hook: cancelling never leaks a container.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "cleanup.h"
#include "curl-event.h"
#include "docker-internal.h"
#include "docker.h"
#include "errmsg.h"
#include "list.h"
#include "log.h"

#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
#define DOCKER_API_MAX_MINOR  41 /* we speak 1.41 (dockerd 20.10) and cap there */

static const struct docker_op_kind ping_kind = { .size = sizeof(struct docker_op) };

/* ---- client and op lifetime ------------------------------------------------------------- */

void docker_unref(struct docker *d)
{
	if (!d || --d->n_ref > 0)
		return;
	assert(!d->ops);
	d->ce = curl_event_free(d->ce);
	sd_event_unref(d->event);
	free(d->socket_path);
	free(d);
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

void docker_op_unref(struct docker_op *op)
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
	if (op->kind->free)
		op->kind->free(op);
	(void)sd_event_source_disable_unref(op->defer);
	free(op);
	docker_unref(d);
}

struct docker_op *docker_op_new(struct docker *d, const struct docker_op_kind *kind, void *userdata)
{
	struct docker_op *op;

	assert(kind->size >= sizeof(struct docker_op));
	op = calloc(1, kind->size);
	if (!op)
		return NULL;
	op->kind = kind;
	op->d = d;
	d->n_ref++;
	op->n_ref = 1; /* held by d->ops while active */
	op->userdata = userdata;
	op->active = true;
	LIST_PREPEND(ops, d->ops, op);
	return op;
}

void docker_op_detach(struct docker_op *op)
{
	struct docker *d = op->d;

	if (!op->active)
		return;
	op->active = false;
	LIST_REMOVE(ops, d->ops, op);
	if (d->negotiator == op)
		d->negotiator = NULL;
	op_request_release(op);
	(void)sd_event_source_set_enabled(op->defer, SD_EVENT_OFF);
	if (op->kind->detach)
		op->kind->detach(op);
	docker_op_unref(op);
}

void docker_op_finish_done(struct docker_op *op, int r, const char *error)
{
	struct docker *d = op->d;

	d->n_ref++;
	if (!op->cancelled && op->cb.done)
		op->cb.done(d, r, r < 0 ? error : NULL, op->userdata);
	op->cancelled = true;
	docker_op_detach(op);
	docker_unref(d);
}

void docker_op_finish_info(struct docker_op *op, int r, const char *error,
			   const struct docker_container_info *info)
{
	struct docker *d = op->d;

	d->n_ref++;
	if (!op->cancelled && op->cb.info)
		op->cb.info(d, r, r < 0 ? error : NULL, r < 0 ? NULL : info, op->userdata);
	op->cancelled = true;
	docker_op_detach(op);
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
	} else if (op->kind->headers_end && (len == 2 || len == 1) &&
		   (ptr[0] == '\r' || ptr[0] == '\n')) {
		if (!op->kind->headers_end(op))
			return 0;
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

static void transport_error(struct docker_op *op, int r, const char *curl_msg, char **ret_msg)
{
	const char *path = op->d->socket_path;

	switch (r) {
	case -ETIMEDOUT:
		(void)errmsg_set(ret_msg,
				 "Docker daemon at '%s' did not answer %s %s within %" PRIu64 " ms",
				 path, op->rq_method, op->rq_path, op->d->timeout_usec / 1000);
		break;
	case -EFBIG:
		(void)errmsg_set(ret_msg, "Docker's answer to %s %s is too large", op->rq_method,
				 op->rq_path);
		break;
	case -ENOENT:
	case -ECONNREFUSED:
	case -EACCES:
	case -EPERM:
		(void)errmsg_set(ret_msg, "cannot connect to the Docker daemon at '%s': %s", path,
				 strerror(-r));
		break;
	default:
		(void)errmsg_set(ret_msg, "Docker request %s %s failed: %s", op->rq_method,
				 op->rq_path, curl_msg ? curl_msg : strerror(-r));
		break;
	}
}

static void on_xfer_done(CURL *easy, int r, const char *curl_msg, void *userdata)
{
	struct docker_op *op = userdata;
	_cleanup_free_ char *body = NULL, *msg = NULL;
	long status = 0;
	docker_step_fn step = op->step;

	op->n_ref++;
	(void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (op->too_big)
		r = -EFBIG;
	if (r < 0) {
		transport_error(op, r, curl_msg, &msg);
		log_debug("docker: %s", msg ? msg : "request failed");
	}
	body = TAKE_PTR(op->buf);
	op->len = op->cap = 0;
	op_request_release(op);
	step(op, r, r < 0 ? (msg ? msg : strerror(-r)) : NULL, status, body);
	docker_op_unref(op);
}

static int op_submit(struct docker_op *op)
{
	struct docker *d = op->d;
	_cleanup_free_ char *url = NULL;
	uint64_t timeout = d->timeout_usec;
	bool versioned = strcmp(op->rq_path, "/_ping") != 0;
	CURL *c;
	int r;

	if (asprintf(&url, "http://docker%s%s%s", versioned ? "/v" : "",
		     versioned ? d->api_version : "", op->rq_path) < 0) {
		url = NULL; /* asprintf leaves it undefined on failure */
		return -ENOMEM;
	}
	op->api_version[0] = '\0';
	c = op->easy = curl_easy_init();
	if (!c)
		return -ENOMEM;
	if (op->rq_pull)
		timeout *= 20;
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

void docker_op_request(struct docker_op *op, const char *method, const char *path, const char *body,
		       docker_step_fn step)
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
	docker_op_unref(op);
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
		for (op = d->ops; op && !op->waiting; op = op->ops_next)
			;
		if (!op)
			break;
		op->waiting = false;
		if (r < 0) {
			op->n_ref++;
			op->step(op, r, error, 0, NULL);
			docker_op_unref(op);
		} else {
			int k = op_submit(op);

			if (k < 0) {
				op_request_release(op);
				op->n_ref++;
				op->step(op, k, strerror(-k), 0, NULL);
				docker_op_unref(op);
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
		r = docker_http_error(status, body, &msg);
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
	docker_op_detach(op);
	/* Any successful ping lets the waiters go; a failed negotiation fails them. */
	if (r >= 0 || negotiator)
		on_negotiated(d, r, error);
	docker_unref(d);
}

int docker_ping(struct docker *d, docker_ping_fn cb, void *userdata, struct docker_op **ret_op)
{
	struct docker_op *op = docker_op_new(d, &ping_kind, userdata);

	if (!op)
		return -ENOMEM;
	op->cb.ping = cb;
	op->rq_method = strdup("GET");
	op->rq_path = strdup("/_ping");
	op->step = step_ping;
	if (!op->rq_method || !op->rq_path || op_submit(op) < 0) {
		op->cancelled = true;
		docker_op_detach(op);
		return -ENOMEM;
	}
	if (ret_op)
		*ret_op = op;
	return 0;
}

/* ---- public lifetime --------------------------------------------------------------------- */

void docker_op_cancel(struct docker_op *op)
{
	if (!op || op->cancelled || !op->active)
		return;
	op->cancelled = true;
	if (op->kind->cancel && op->kind->cancel(op))
		return;
	op->waiting = false;
	docker_op_detach(op);
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
		for (op = d->ops; op && op->cancelled; op = op->ops_next)
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
	const struct docker_op *op;
	unsigned n = 0;

	LIST_FOREACH(ops, op, d->ops)
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
