/* SPDX-License-Identifier: MIT */
/*
 * docker-events.c - docker_events(): following dockerd's event stream
 *
 * One long GET /events (no total timeout) whose lines are parsed as they arrive into a queue of
 * events; a defer source delivers the queue from the loop, in dockerd's order. A "start" event
 * does not carry the pid, so the queue stops at it while an inspect (the op's sub-op) looks the
 * pid up. When the stream breaks, a timer reconnects with backoff (0.1 s doubling to 5 s) and
 * since= the last event seen (or the start of the op), so what dockerd still remembers is not
 * lost; replayed events are dropped by their timeNano. Once the response headers of a reconnect
 * arrive with 200, a "reconnect" event is queued first, telling the user to re-inspect.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-event.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "docker-internal.h"
#include "docker.h"
#include "list.h"
#include "log.h"

#define EVENTS_BACKOFF_MIN (100ull * 1000)
#define EVENTS_BACKOFF_MAX (5ull * 1000000)

struct ev_item {
	LIST_FIELDS(struct ev_item, items);
	char *action, *id, *name;
	int exit_code;
	int64_t time_nano;
	pid_t pid;
	bool looked_up; /* a start event's pid is known */
};

struct events_op {
	struct docker_op op;
	char *filters;	       /* the filters= query value, escaped */
	struct ev_item *items; /* parsed, not yet delivered; oldest first */
	int64_t last_nano;     /* the newest event seen: since= on a reconnect, and replay filter */
	int64_t since_nano;    /* when the op started: since= before any event */
	bool broken;	       /* the stream broke: the next 200 queues a "reconnect" */
	uint64_t backoff;      /* the current reconnect delay */
	sd_event_source *retry; /* the reconnect timer */
	struct docker_op *sub;	/* the inspect looking up a start event's pid */
};

static struct events_op *events_of(struct docker_op *op)
{
	return (struct events_op *)op;
}

static void ev_item_free(struct ev_item *it)
{
	free(it->action);
	free(it->id);
	free(it->name);
	free(it);
}

static void events_free(struct docker_op *op)
{
	struct events_op *e = events_of(op);
	struct ev_item *it, *n;

	free(e->filters);
	LIST_FOREACH_SAFE(items, it, n, e->items)
	ev_item_free(it);
	(void)sd_event_source_disable_unref(e->retry);
}

static void events_detach(struct docker_op *op)
{
	(void)sd_event_source_set_enabled(events_of(op)->retry, SD_EVENT_OFF);
}

static bool events_cancel(struct docker_op *op)
{
	struct events_op *e = events_of(op);

	if (e->sub) {
		struct docker_op *sub = TAKE_PTR(e->sub);

		docker_op_cancel(sub);
	}
	return false;
}

/* End of the headers: the stream is up. Tell the user if it had broken. */
static bool events_headers_end(struct docker_op *op)
{
	struct events_op *e = events_of(op);
	long status = 0;

	(void)curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200 && e->broken) {
		struct ev_item *it = calloc(1, sizeof(*it));

		if (!it || !(it->action = strdup("reconnect"))) {
			free(it);
			return false;
		}
		LIST_APPEND(items, e->items, it);
		e->broken = false;
		e->backoff = 0;
		(void)sd_event_source_set_enabled(op->defer, SD_EVENT_ONESHOT);
	}
	return true;
}

static const struct docker_op_kind events_kind = {
	.size = sizeof(struct events_op),
	.free = events_free,
	.detach = events_detach,
	.cancel = events_cancel,
	.headers_end = events_headers_end,
};

static void events_connect(struct docker_op *op);

static int events_line(struct docker_op *op, char *line)
{
	struct events_op *e = events_of(op);
	struct docker_event_line ev = { 0 };
	struct ev_item *it;
	int r;

	r = docker_event_line_parse(line, &ev);
	if (r <= 0)
		return r; /* not JSON or not a container event: skip it, the stream goes on */
	if (ev.time_nano > 0 && ev.time_nano <= e->last_nano) {
		docker_event_line_done(&ev); /* replayed by since= after a reconnect */
		return 0;
	}
	if (ev.time_nano > 0)
		e->last_nano = ev.time_nano;
	it = calloc(1, sizeof(*it));
	if (!it) {
		docker_event_line_done(&ev);
		return -ENOMEM;
	}
	it->action = TAKE_PTR(ev.action);
	it->id = TAKE_PTR(ev.id);
	it->name = TAKE_PTR(ev.name);
	it->exit_code = ev.exit_code;
	it->time_nano = ev.time_nano;
	LIST_APPEND(items, e->items, it);
	(void)sd_event_source_set_enabled(op->defer, SD_EVENT_ONESHOT);
	return 0;
}

static void on_event_inspected(struct docker *d, int r, const char *error,
			       const struct docker_container_info *info, void *userdata)
{
	struct events_op *e = userdata;

	e->sub = NULL;
	if (e->items) {
		e->items->pid = r >= 0 && info->running ? info->pid : 0;
		e->items->looked_up = true;
	}
	(void)sd_event_source_set_enabled(e->op.defer, SD_EVENT_ONESHOT);
}

static int on_events_defer(sd_event_source *s, void *userdata)
{
	struct events_op *e = userdata;
	struct docker_op *op = &e->op;
	struct docker *d = op->d;

	d->n_ref++;
	op->n_ref++;
	while (e->items && !e->sub && !op->cancelled) {
		struct ev_item *it = e->items;
		struct docker_event ev;

		if (strcmp(it->action, "start") == 0 && !it->looked_up) {
			/* The pid is not in the event: look it up before delivering, in order. */
			if (docker_inspect(d, it->id, on_event_inspected, e, &e->sub) < 0) {
				e->sub = NULL;
				it->looked_up = true;
			}
			continue;
		}
		LIST_REMOVE(items, e->items, it);
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
	docker_op_unref(op);
	docker_unref(d);
	return 0;
}

static int on_events_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct events_op *e = userdata;

	events_connect(&e->op);
	return 0;
}

static void step_events(struct docker_op *op, int r, const char *error, long status, char *body)
{
	struct events_op *e = events_of(op);
	int k;

	/* The stream never ends on its own: dockerd went away, or refused the request. */
	op->on_line = NULL;
	if (op->cancelled)
		return;
	if (r >= 0 && status != 200) {
		_cleanup_free_ char *msg = NULL;

		(void)docker_http_error(status, body, &msg);
		log_debug("docker: events stream refused: %s", msg ? msg : "?");
	} else {
		log_debug("docker: events stream ended: %s", r < 0 ? error : "end of stream");
	}
	e->broken = true;
	e->backoff = e->backoff ? e->backoff * 2 : EVENTS_BACKOFF_MIN;
	if (e->backoff > EVENTS_BACKOFF_MAX)
		e->backoff = EVENTS_BACKOFF_MAX;
	if (!e->retry)
		k = sd_event_add_time_relative(op->d->event, &e->retry, CLOCK_MONOTONIC, e->backoff,
					       1000, on_events_retry, e);
	else {
		k = sd_event_source_set_time_relative(e->retry, e->backoff);
		if (k >= 0)
			k = sd_event_source_set_enabled(e->retry, SD_EVENT_ONESHOT);
	}
	if (k < 0)
		log_debug_errno(k, "docker: cannot arm the events reconnect timer");
}

static void events_connect(struct docker_op *op)
{
	struct events_op *e = events_of(op);
	_cleanup_free_ char *path = NULL;
	int64_t since = e->last_nano > 0 ? e->last_nano : e->since_nano;

	if (asprintf(&path, "/events?filters=%s&since=%" PRId64 ".%09" PRId64, e->filters,
		     since / 1000000000, since % 1000000000) < 0) {
		path = NULL; /* undefined after a failure */
		step_events(op, -ENOMEM, "out of memory", 0, NULL);
		return;
	}
	op->rq_stream = true;
	op->on_line = events_line;
	docker_op_request(op, "GET", path, NULL, step_events);
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
	ok = GEN_OK(yajl_gen_map_open(g)) && docker_gen_str(g, "type") &&
	     GEN_OK(yajl_gen_array_open(g)) && docker_gen_str(g, "container") &&
	     GEN_OK(yajl_gen_array_close(g)) && docker_gen_str(g, "event") &&
	     GEN_OK(yajl_gen_array_open(g));
	for (const char *const *a = actions; ok && *a; a++)
		ok = docker_gen_str(g, *a);
	ok = ok && GEN_OK(yajl_gen_array_close(g));
	if (ok && f && f->label)
		ok = docker_gen_str(g, "label") && GEN_OK(yajl_gen_array_open(g)) &&
		     docker_gen_str(g, f->label) && GEN_OK(yajl_gen_array_close(g));
	if (ok && f && f->container)
		ok = docker_gen_str(g, "container") && GEN_OK(yajl_gen_array_open(g)) &&
		     docker_gen_str(g, f->container) && GEN_OK(yajl_gen_array_close(g));
	ok = ok && GEN_OK(yajl_gen_map_close(g));
	if (ok && GEN_OK(yajl_gen_get_buf(g, &buf, &len)))
		json = strndup((const char *)buf, len);
	yajl_gen_free(g);
	r = json ? docker_url_escape(json) : NULL;
	free(json);
	return r;
}

int docker_events(struct docker *d, const struct docker_events_filter *filter, docker_event_fn cb,
		  void *userdata, struct docker_op **ret_op)
{
	struct events_op *e;
	struct docker_op *op;
	struct timespec ts;
	int r;

	if (!ret_op || !cb)
		return -EINVAL;
	op = docker_op_new(d, &events_kind, userdata);
	if (!op)
		return -ENOMEM;
	e = events_of(op);
	op->cb.event = cb;
	e->filters = events_filters(filter);
	r = e->filters ? sd_event_add_defer(d->event, &op->defer, on_events_defer, e) : -ENOMEM;
	if (r < 0) {
		op->cancelled = true;
		docker_op_detach(op);
		return r;
	}
	(void)sd_event_source_set_enabled(op->defer, SD_EVENT_OFF);
	/* since= now: after a break, the reconnect asks for what happened since we started */
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	e->since_nano = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	*ret_op = op;
	events_connect(op);
	return 0;
}
