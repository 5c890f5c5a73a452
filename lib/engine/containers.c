/* SPDX-License-Identifier: MIT */
/*
 * containers.c - Docker on the daemon side: the client, orphans, and following containers
 *
 * One events subscription serves every watch: it is started with the first watch and cancelled
 * with the last. Events are matched by container id, and "start" also by name, so a container
 * recreated under the same name is followed too. The namespace of a started container is opened
 * from the pid the event carries as soon as the event arrives, which pins it.
 *
 * The orphan sweep at start removes the containers labelled with our daemon id that no segment
 * follows. It waits until every restored segment has adopted what it could (restores_pending,
 * segment.c), and a sweep that finds a segment busy applying words (a container may exist that
 * is not followed yet) lists again a little later, so it never takes a container that is about
 * to be adopted or started.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "containers.h"
#include "docker.h"
#include "list.h"
#include "log.h"
#include "netns.h"
#include "segment.h"
#include "spec.h"

struct container_watch {
	struct segment *s;
	struct endpoint *target;
	LIST_FIELDS(struct container_watch, watches);
	char *id;
	char *name;
	struct docker_op *inspect_op; /* re-inspection after the event stream came back */
};

static int watch_enter(struct container_watch *w, int pid)
{
	int fd = netns_open_pid(pid);

	if (fd < 0)
		return fd;
	w->target->nsfd = safe_close(w->target->nsfd);
	w->target->nsfd = fd;
	return 0;
}

static void watch_up(struct container_watch *w, int pid)
{
	int r;

	r = watch_enter(w, pid);
	if (r < 0) {
		log_warning_errno(r,
				  "segment '%s': container '%s' started, but its namespace "
				  "cannot be opened",
				  w->s->id, w->name);
		segment_endpoint_set_down(w->s, w->target, true);
		return;
	}
	log_info("segment '%s': container '%s' is running (pid %d), following it", w->s->id,
		 w->name, pid);
	segment_endpoint_set_down(w->s, w->target, false);
}

static void watch_down(struct container_watch *w, const char *why)
{
	if (w->target->down)
		return;
	log_notice("segment '%s': container '%s' %s; new connections are refused until it "
		   "runs again",
		   w->s->id, w->name, why);
	segment_endpoint_set_down(w->s, w->target, true);
}

static void on_reinspect(struct docker *dk, int r, const char *error,
			 const struct docker_container_info *info, void *userdata)
{
	struct container_watch *w = userdata;

	w->inspect_op = NULL;
	if (r < 0) {
		watch_down(w, error ?: "cannot be inspected");
		return;
	}
	if (!info->running || info->pid <= 0) {
		watch_down(w, "is not running");
		return;
	}
	if (!w->target->down) {
		/* nothing to do if it still is the namespace we hold */
		int fd = netns_open_pid(info->pid);
		bool same = fd >= 0 && netns_same(fd, w->target->nsfd);

		safe_close(fd);
		if (same)
			return;
	}
	watch_up(w, info->pid);
}

static void on_event(struct docker *dk, const struct docker_event *ev, void *userdata)
{
	struct daemon *d = userdata;

	struct container_watch *w, *next;

	LIST_FOREACH_SAFE(watches, w, next, d->watches)
	{
		if (strcmp(ev->action, "reconnect") == 0) {
			log_info("segment '%s': Docker events are back, checking container '%s'",
				 w->s->id, w->name);
			if (!w->inspect_op)
				(void)docker_inspect(d->docker, w->id, on_reinspect, w,
						     &w->inspect_op);
			continue;
		}
		if (!ev->id)
			continue;
		if (strcmp(ev->id, w->id) != 0) {
			char *id, *tid;

			if (strcmp(ev->action, "start") != 0 || !ev->name ||
			    strcmp(ev->name, w->name) != 0)
				continue;

			id = strdup(ev->id); /* recreated under the same name */
			tid = strdup(ev->id);
			if (!id || !tid) {
				free(id);
				free(tid);
				log_warning("segment '%s': out of memory following container '%s', "
					    "ignoring",
					    w->s->id, w->name);
				continue;
			}
			free(w->id);
			w->id = id;
			free(w->target->container_id);
			w->target->container_id = tid;
		}
		if (strcmp(ev->action, "start") == 0 && ev->pid > 0)
			watch_up(w, ev->pid);
		else if (strcmp(ev->action, "die") == 0)
			watch_down(w, "stopped");
		else if (strcmp(ev->action, "destroy") == 0)
			watch_down(w, "was removed");
	}
}

static int events_ensure(struct daemon *d)
{
	static const struct docker_events_filter filter = { 0 }; /* start, die, destroy */

	if (d->events_op)
		return 0;
	return docker_events(d->docker, &filter, on_event, d, &d->events_op);
}

int container_watch_new(struct segment *s, struct endpoint *target, const char *id,
			const char *name, int pid, struct container_watch **ret)
{
	struct daemon *d = s->d;
	struct container_watch *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct container_watch){ .s = s, .target = target };
	w->id = strdup(id);
	w->name = strdup(name ?: id);
	if (!w->id || !w->name) {
		r = -ENOMEM;
		goto fail;
	}
	if (pid > 0) {
		r = watch_enter(w, pid);
		if (r < 0)
			goto fail;
	}
	free(target->container);
	free(target->container_id);
	target->container = strdup(w->name);
	target->container_id = strdup(w->id);
	if (!target->container || !target->container_id) {
		r = -ENOMEM;
		goto fail;
	}
	target->down = false;
	r = events_ensure(d);
	if (r < 0)
		goto fail;
	LIST_PREPEND(watches, d->watches, w);
	*ret = w;
	return 0;
fail:
	free(w->id);
	free(w->name);
	free(w);
	return r;
}

struct container_watch *container_watch_free(struct container_watch *w)
{
	struct daemon *d;

	if (!w)
		return NULL;
	d = w->s->d;
	if (w->inspect_op)
		docker_op_cancel(w->inspect_op);
	LIST_REMOVE(watches, d->watches, w);
	if (!d->watches && d->events_op) {
		docker_op_cancel(d->events_op);
		d->events_op = NULL;
	}
	free(w->id);
	free(w->name);
	free(w);
	return NULL;
}

const char *container_watch_id(const struct container_watch *w)
{
	return w->id;
}

int containers_labels(struct segment *s, const char *word, char ***ret)
{
	char **l = calloc(4, sizeof(char *));

	if (!l)
		return -ENOMEM;
	if (asprintf(&l[0], "wormhole.segment=%s", s->id) < 0) {
		free(l); /* asprintf leaves l[0] undefined on failure */
		return -ENOMEM;
	}
	if (asprintf(&l[1], "wormhole.daemon=%s", s->d->instance) < 0) {
		l[1] = NULL;
		strv_free(l); /* frees l[0] */
		return -ENOMEM;
	}
	if (word && asprintf(&l[2], "wormhole.word=%s", word) < 0) {
		l[2] = NULL;
		strv_free(l);
		return -ENOMEM;
	}
	*ret = l;
	return 0;
}

static void on_orphan_removed(struct docker *dk, int r, const char *error, void *userdata)
{
	_cleanup_free_ char *id = userdata;

	if (r < 0)
		log_warning("cannot remove orphaned container %.12s: %s", id,
			    error ?: strerror(-r));
	else
		log_info("removed container %.12s left behind by an earlier run", id);
}

#define SWEEP_RETRY_USEC (500 * 1000ULL)
#define SWEEP_RETRIES	 120 /* a minute of segments busy without a pause */

static int sweep_now(struct daemon *d);

static int on_sweep_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	d->sweep_src = sd_event_source_disable_unref(d->sweep_src);
	(void)sweep_now(d);
	return 0;
}

static void on_orphans(struct docker *dk, int r, const char *error, char *const *ids,
		       void *userdata)
{
	struct daemon *d = userdata;

	if (r < 0) {
		log_debug("no Docker engine to check for orphaned containers: %s",
			  error ?: strerror(-r));
		return;
	}
	if (d->exiting)
		return;
	if (ids[0] && d->runners_active > 0 && d->sweep_retries++ < SWEEP_RETRIES) {
		if (sd_event_add_time_relative(d->event, &d->sweep_src, CLOCK_MONOTONIC,
					       SWEEP_RETRY_USEC, 0, on_sweep_retry, d) >= 0)
			return;
	}

	for (char *const *id = ids; *id; id++) {
		struct container_watch *w;
		bool ours = false;
		char *copy;

		/* a container this run follows (a restored segment adopted it, or it was started
		 * since) is no orphan */
		LIST_FOREACH(watches, w, d->watches)
			if (strcmp(w->id, *id) == 0)
				ours = true;
		if (ours)
			continue;
		copy = strdup(*id);

		if (copy && docker_remove(dk, copy, on_orphan_removed, copy, NULL) < 0)
			free(copy);
	}
}

int containers_init(struct daemon *d)
{
	return docker_new(d->event, NULL, &d->docker);
}

static int sweep_now(struct daemon *d)
{
	_cleanup_free_ char *label = NULL;
	int r;

	if (asprintf(&label, "wormhole.daemon=%s", d->instance) < 0)
		return -ENOMEM;
	r = docker_list_by_label(d->docker, label, on_orphans, d, NULL);
	if (r < 0)
		log_debug_errno(r, "cannot look for orphaned containers, ignoring");
	return 0;
}

int containers_sweep(struct daemon *d)
{
	d->sweep_wanted = true;
	if (d->restores_pending > 0) {
		log_debug("orphan sweep: waiting for %u restored segment%s to adopt their "
			  "containers",
			  d->restores_pending, d->restores_pending == 1 ? "" : "s");
		return 0;
	}
	d->sweep_wanted = false;
	return sweep_now(d);
}

void containers_restores_done(struct daemon *d)
{
	if (d->sweep_wanted && !d->exiting)
		(void)containers_sweep(d);
}

bool containers_drained(struct daemon *d)
{
	/* the events stream stays pending forever: it does not count */
	return !d->docker || docker_pending(d->docker) <= (d->events_op ? 1u : 0u);
}

void containers_free(struct daemon *d)
{
	d->sweep_src = sd_event_source_disable_unref(d->sweep_src);
	while (d->watches)
		container_watch_free(d->watches);
	d->docker = docker_free(d->docker);
}
