/* SPDX-License-Identifier: MIT */
/*
 * segment-idle.c - scale to zero (`idle TIME[,keep]`, see segment.h): the idle timer of a
 * RUNNING segment, the stop that undoes the trigger's words (STOPPING while asynchronous undos
 * hold it), the containers kept stopped for the next run, and the holds those undos take
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "conn.h"
#include "docker.h"
#include "engine.h"
#include "list.h"
#include "log.h"
#include "runner.h"
#include "segment-internal.h"
#include "segment.h"
#include "time-util.h"

struct segment *segment_hold_segment(const struct segment_hold *h)
{
	return h ? h->s : NULL;
}

int segment_kept_put(struct segment *s, const void *key, const char *id)
{
	struct segment_kept *k;
	char *copy = strdup(id);

	if (!copy)
		return -ENOMEM;
	k = realloc(s->kept, (s->n_kept + 1) * sizeof(*k));
	if (!k) {
		free(copy);
		return -ENOMEM;
	}
	s->kept = k;
	s->kept[s->n_kept++] = (struct segment_kept){ .key = key, .id = copy };
	return 0;
}

char *segment_kept_take(struct segment *s, const void *key)
{
	for (size_t i = 0; i < s->n_kept; i++)
		if (s->kept[i].key == key) {
			char *id = s->kept[i].id;

			s->kept[i] = s->kept[--s->n_kept];
			return id;
		}
	return NULL;
}

static void on_kept_removed(struct docker *dk, int r, const char *error, void *userdata)
{
	_cleanup_free_ char *id = userdata;

	if (r < 0)
		log_warning("cannot remove kept container %.12s: %s", id, error ?: strerror(-r));
	else
		log_info("removed kept container %.12s", id);
}

void segment_remove_kept(struct segment *s)
{
	for (size_t i = 0; i < s->n_kept; i++) {
		char *id = s->kept[i].id;

		if (!s->d->docker ||
		    docker_remove(s->d->docker, id, on_kept_removed, id, NULL) < 0) {
			log_warning("cannot remove kept container %.12s", id);
			free(id);
		}
	}
	free(s->kept);
	s->kept = NULL;
	s->n_kept = 0;
}

bool segment_stopping(const struct segment *s)
{
	return s->state == SEGMENT_STOPPING;
}

static void segment_stop_done(struct segment *s)
{
	segment_set_state(s, SEGMENT_ARMED);
	if (s->d->hooks && s->d->hooks->changed) /* the state file: no longer triggered */
		s->d->hooks->changed(s->d);
	log_info("segment '%s': scaled to zero, armed again%s", s->id,
		 conn_count_waiting(s) > 0 ? "; a connection waits, running the trigger" : "");
	if (conn_count_waiting(s) > 0)
		segment_trigger(s);
}

struct segment_hold *segment_hold_new(struct segment *s)
{
	struct segment_hold *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->s = s;
	LIST_PREPEND(holds, s->holds, h);
	return h;
}

void segment_hold_release(struct segment_hold *h)
{
	struct segment *s;

	if (!h)
		return;
	s = h->s;
	if (s)
		LIST_REMOVE(holds, s->holds, h);
	free(h);
	if (s && !s->holds && s->state == SEGMENT_STOPPING)
		segment_stop_done(s);
}

static void segment_scale_down(struct segment *s)
{
	char buf[32];

	log_info("segment '%s': no connection for %s, undoing the trigger (%s)", s->id,
		 duration_format(s->idle_usec, buf, sizeof(buf)),
		 s->idle_keep ? "stop, keep" : "stop, remove");
	segment_set_state(s, SEGMENT_STOPPING);
	s->stats.idle_stops++;
	runner_undo(s, true); /* a container removal takes a hold until it is done */
	endpoint_done(&s->tail.ep);
	s->tail.ep = s->tail_armed;
	s->tail_armed = ENDPOINT_EMPTY;
	if (s->tail_ops_armed)
		s->tail.ops = s->tail_ops_armed;
	s->tail_ready = false;
	if (!s->holds)
		segment_stop_done(s);
}

static int on_idle_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct segment *s = userdata;

	if (s->state != SEGMENT_RUNNING || s->conns_active > 0 || s->idle_usec == 0)
		return 0;
	if (now_usec() < s->idle_since + s->idle_usec) {
		segment_idle_check(s);
		return 0;
	}
	segment_scale_down(s);
	return 0;
}

void segment_idle_check(struct segment *s)
{
	uint64_t when;
	int r;

	if (s->state != SEGMENT_RUNNING || s->conns_active > 0 || s->idle_usec == 0)
		return;
	s->idle_since = now_usec();
	when = s->idle_since + s->idle_usec;
	if (!s->idle_timer) {
		r = sd_event_add_time(s->d->event, &s->idle_timer, CLOCK_MONOTONIC, when,
				      USEC_PER_SEC / 20, on_idle_timer, s);
	} else {
		r = sd_event_source_set_time(s->idle_timer, when);
		if (r >= 0)
			r = sd_event_source_set_enabled(s->idle_timer, SD_EVENT_ONESHOT);
	}
	if (r < 0)
		log_warning_errno(r, "segment '%s': cannot arm the idle timer, ignoring", s->id);
}

void segment_set_idle(struct segment *s, uint64_t usec, bool keep)
{
	s->idle_usec = usec;
	s->idle_keep = keep;
	if (usec == 0 && s->idle_timer)
		(void)sd_event_source_set_enabled(s->idle_timer, SD_EVENT_OFF);
}
