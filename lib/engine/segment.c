/* SPDX-License-Identifier: MIT */
/*
 * segment.c - segment lifecycle: create, trigger, containers going down and up, free
 *
 * Creation runs the init words (runner.c), starts the head (head.h), completes the tail when no
 * trigger is pending (tail.h) and registers the segment; any failure undoes what was done, and an
 * asynchronous creation reports through its callback. A trigger saves the tail, runs the trigger
 * words, and either completes the tail and serves the waiting connections or restores the tail,
 * closes them and re-arms. The connection path itself is conn.c; a segment's tails (text, pick,
 * routing) are segment-tails.c; scale to zero (`idle`) is segment-idle.c.
 *
 * A restore (the daemon restarted, the segment comes from the state file) adopts instead of
 * starting anew: the init words of a restored segment, and the first trigger run of one whose
 * trigger had run, are applied with segment_adopting() true, and docker-run then looks for the
 * container the previous run left (by its labels) before it starts one. A trigger run that finds
 * nothing to adopt re-arms quietly: the next connection runs the trigger as usual. A restored top
 * segment records at its creation what it and each descendant had (struct segment_restore: id,
 * port, trigger run), while the hooks can still answer; a child its restoring parent creates,
 * even by a trigger run again long after the boot, takes the rest and is restored the same way,
 * with the id its containers are labelled with. Until every restore is done
 * (d->restores_pending, children counted), the orphan sweep waits (containers.c), so it never
 * takes a container a restore is about to adopt. At the daemon's exit the containers of segments
 * saved in the state file, and of their descendants, are left running
 * (segment_keeps_containers()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "balance.h"
#include "cleanup.h"
#include "conn.h"
#include "containers.h"
#include "docker.h"
#include "errmsg.h"
#include "head.h"
#include "log.h"
#include "runner.h"
#include "segment-internal.h"
#include "segment.h"
#include "spec.h"
#include "strmap.h"
#include "tail.h"
#include "time-util.h"
#include "tls-sni.h"

const char *segment_state_name(enum segment_state st)
{
	static const char *const names[] = {
		[SEGMENT_CREATING] = "creating", [SEGMENT_LISTENING] = "listening",
		[SEGMENT_ARMED] = "armed",	 [SEGMENT_TRIGGERING] = "triggering",
		[SEGMENT_RUNNING] = "running",	 [SEGMENT_STOPPING] = "stopping",
	};
	return st < ELEMENTSOF(names) ? names[st] : "?";
}

const double segment_trigger_buckets[SEGMENT_TRIGGER_BUCKETS] = { 0.05, 0.1, 0.25, 0.5, 1,
								  2.5,	5,   10,   30,	60 };

const char *segment_fail_name(enum segment_fail f)
{
	static const char *const names[] = {
		[SEGMENT_FAIL_REFUSED] = "refused",	[SEGMENT_FAIL_CONNECT] = "connect",
		[SEGMENT_FAIL_TAIL_DOWN] = "tail_down", [SEGMENT_FAIL_TRIGGER] = "trigger",
		[SEGMENT_FAIL_NO_ROUTE] = "no_route",
	};
	return f < ELEMENTSOF(names) ? names[f] : "?";
}

char *segment_state_text(const struct segment *s)
{
	char *text, buf[32];

	if (s->state != SEGMENT_RUNNING || s->conns_active > 0)
		return strdup(segment_state_name(s->state));
	if (asprintf(&text, "running (idle %s)",
		     duration_format(now_usec() - s->idle_since, buf, sizeof(buf))) < 0)
		return NULL;
	return text;
}

void segment_set_state(struct segment *s, enum segment_state st)
{
	if (st == s->state)
		return;
	log_debug("segment '%s': %s -> %s", s->id, segment_state_name(s->state),
		  segment_state_name(st));
	s->state = st;
}

/* ---- registry ----------------------------------------------------------------------------- */

struct segment *segment_find(struct daemon *d, const char *id)
{
	return d->by_id ? strmap_get(d->by_id, id) : NULL;
}

/* The registry: a list in creation order (list, shutdown) and a map by id (every lookup; a
 * create checks its id, so a scan would make n creations O(n²)). The map exists while the
 * registry is not empty. */
static int segment_register(struct segment *s)
{
	struct daemon *d = s->d;
	int r;

	if (!d->by_id) {
		r = strmap_new(&d->by_id);
		if (r < 0)
			return r;
	}
	r = strmap_put(d->by_id, s->id, s);
	if (r < 0)
		return r;
	s->prev = d->segments_last;
	s->next = NULL;
	if (d->segments_last)
		d->segments_last->next = s;
	else
		d->segments = s;
	d->segments_last = s;
	s->registered = true;
	if (d->hooks && d->hooks->changed)
		d->hooks->changed(d);
	return 0;
}

static void segment_unregister(struct segment *s)
{
	struct daemon *d = s->d;

	if (!s->registered)
		return;
	(void)strmap_remove(d->by_id, s->id);
	if (strmap_size(d->by_id) == 0)
		d->by_id = strmap_free(d->by_id);
	if (s->prev)
		s->prev->next = s->next;
	else
		d->segments = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		d->segments_last = s->prev;
	s->prev = s->next = NULL;
	s->registered = false;
	if (d->hooks && d->hooks->changed)
		d->hooks->changed(d);
}

static int generate_id(struct daemon *d, char **ret)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		uint8_t b[6];
		char *id;

		if (getrandom(b, sizeof(b), 0) != sizeof(b))
			return -EIO;
		if (asprintf(&id, "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5]) <
		    0)
			return -ENOMEM;
		if (!segment_find(d, id)) {
			*ret = id;
			return 0;
		}
		free(id);
	}
	return -EEXIST;
}

static int segment_complete_tail(struct segment *s, char **ret_error)
{
	for (size_t k = 0; k < s->n_tails; k++) {
		struct segment_tail *t = segment_tail_nth(s, k);
		int r = t->ops->complete(s, t, ret_error);

		if (r < 0)
			return r;
	}
	s->tail_ready = true;
	return 0;
}

/* ---- the trigger -------------------------------------------------------------------------- */

bool segment_adopting(const struct segment *s)
{
	return s->adopting;
}

bool segment_keeps_containers(const struct segment *s)
{
	struct daemon *d = s->d;

	/* a child's containers go with its top segment, which the state file saves */
	while (s->parent)
		s = s->parent;
	return d->exiting && d->hooks && d->hooks->persists && d->hooks->persists(d, s);
}

uint16_t segment_restore_port(const struct segment *s)
{
	return s->restore ? s->restore[0].port : 0;
}

const struct segment_restore *segment_restore_rest(const struct segment *s, size_t *ret_n)
{
	*ret_n = s->n_restore > 1 ? s->n_restore - 1 : 0;
	return *ret_n ? s->restore + 1 : NULL;
}

bool segment_saved_triggered(const struct segment *s)
{
	if (s->sseg->n_trig == 0)
		return false;
	/* RUNNING: triggered, with an idle timer; a restore still adopting had triggered */
	return s->state == SEGMENT_LISTENING || s->state == SEGMENT_RUNNING || s->restore_trigger ||
	       (s->adopting && s->state == SEGMENT_TRIGGERING);
}

static void restore_free(struct segment *s)
{
	for (size_t i = 0; i < s->n_restore; i++)
		free(s->restore[i].id);
	free(s->restore);
	s->restore = NULL;
	s->n_restore = 0;
}

/* The most records one restore takes: a chain is at most this deep (a state file that names
 * segments in a cycle stops here) */
#define SEGMENT_RESTORE_MAX 64

/* Records for the restored top segment @s and its descendants, asked of the hooks now (they
 * answer while the daemon boots; a child may be created later, by a trigger run again). */
static int restore_build(struct segment *s)
{
	const struct daemon_hooks *hk = s->d->hooks;
	const char *id = s->id;

	s->restore = calloc(SEGMENT_RESTORE_MAX, sizeof(*s->restore));
	if (!s->restore)
		return -ENOMEM;
	while (id && s->n_restore < SEGMENT_RESTORE_MAX) {
		struct segment_restore *rec = &s->restore[s->n_restore];

		rec->id = strdup(id);
		if (!rec->id)
			return -ENOMEM;
		s->n_restore++;
		rec->port = hk->restore_port ? hk->restore_port(s->d, id) : 0;
		rec->triggered = hk->restore_triggered && hk->restore_triggered(s->d, id);
		id = hk->restore_child_id ? hk->restore_child_id(s->d, id) : NULL;
	}
	return 0;
}

/* The records a restored child takes from its parent's: its own and its descendants' */
static int restore_copy(struct segment *s, const struct segment_restore *from, size_t n)
{
	s->restore = calloc(n, sizeof(*s->restore));
	if (!s->restore)
		return -ENOMEM;
	for (; s->n_restore < n; s->n_restore++) {
		s->restore[s->n_restore] = from[s->n_restore];
		s->restore[s->n_restore].id = strdup(from[s->n_restore].id);
		if (!s->restore[s->n_restore].id)
			return -ENOMEM;
	}
	return 0;
}

/* The restore of @s is over (adopted, nothing to adopt, failed, or @s is gone): the orphan
 * sweep may run once no restore is left. */
static void segment_restore_done(struct segment *s)
{
	s->restore_trigger = false;
	restore_free(s);
	if (!s->restore_counted)
		return;
	s->restore_counted = false;
	if (--s->d->restores_pending == 0)
		containers_restores_done(s->d);
}

static void trigger_account(struct segment *s)
{
	double sec = (double)(now_usec() - s->trigger_start_usec) / (double)USEC_PER_SEC;

	s->stats.trigger_count++;
	s->stats.trigger_sum += sec;
	for (size_t i = 0; i < SEGMENT_TRIGGER_BUCKETS; i++)
		if (sec <= segment_trigger_buckets[i]) {
			s->stats.trigger_bucket[i]++;
			break;
		}
}

static void trigger_finished(struct segment *s, int r, char *error)
{
	_cleanup_free_ char *err = error;
	bool adopted = s->adopting;

	s->adopting = false;
	if (!adopted)
		trigger_account(s);
	if (r >= 0) {
		r = segment_complete_tail(s, &err);
		if (r < 0)
			runner_undo(s, true);
	}
	if (r < 0) {
		/* back to the tail as it was before the trigger, armed for the next connection */
		endpoint_done(&s->tail.ep);
		s->tail.ep = s->tail_saved;
		s->tail_saved = ENDPOINT_EMPTY;
		s->tail.ops = s->tail_ops_armed;
		s->tail_ready = false;
		if (adopted && r == -EHOSTDOWN) {
			/* Docker could not be asked (docker-run): what it had may still run. The
			 * restore goes on: the next run adopts, the state file still has the trigger
			 * run and the children's ids, the orphan sweep still waits. A connection
			 * waiting now cannot be served without Docker. */
			log_notice("segment '%s': cannot adopt what it had from before the restart "
				   "(%s); armed, the next connection adopts it once Docker answers",
				   s->id, err ?: "unknown error");
			segment_set_state(s, SEGMENT_ARMED);
			s->restore_trigger = true;
			if (conn_count_waiting(s) > 0)
				conn_trigger_done(s, r, "Docker does not answer");
			return;
		}
		if (adopted) {
			/* not a failure: what it had started is gone, the next connection starts
			 * it again */
			log_notice("segment '%s': %s from before the restart (%s); armed, the next "
				   "connection runs the trigger",
				   s->id,
				   r == -ENOENT ? "nothing to adopt" : "cannot adopt what it had",
				   err ?: "unknown error");
			segment_set_state(s, SEGMENT_ARMED);
			segment_restore_done(s);
			if (s->d->hooks && s->d->hooks->changed)
				s->d->hooks->changed(s->d);
			if (conn_count_waiting(s) > 0)
				segment_trigger(s);
			return;
		}
		s->stats.trigger_failures++;
		/* the reason first, then one line per connection it ends */
		log_error("segment '%s': trigger failed: %s; closing %u waiting connection(s), "
			  "armed again",
			  s->id, err ?: "unknown error", conn_count_waiting(s));
		segment_set_state(s, SEGMENT_ARMED);
		conn_trigger_done(s, r, "trigger failed");
		return;
	}

	if (s->idle_usec > 0) {
		/* kept for the next run, after an idle stop */
		endpoint_done(&s->tail_armed);
		s->tail_armed = s->tail_saved;
		segment_set_state(s, SEGMENT_RUNNING);
	} else {
		endpoint_done(&s->tail_saved);
		segment_set_state(s, SEGMENT_LISTENING);
	}
	s->tail_saved = ENDPOINT_EMPTY;
	if (s->d->hooks && s->d->hooks->changed)
		s->d->hooks->changed(s->d);
	{
		_cleanup_free_ char *tail = segment_tail_url(s);
		if (adopted)
			log_info("segment '%s': adopted what its trigger had started before the "
				 "restart, tail is %s",
				 s->id, tail ?: "?");
		else
			log_info("segment '%s': triggered, tail is %s (in %.3f s)", s->id,
				 tail ?: "?",
				 (double)(now_usec() - s->trigger_start_usec) /
					 (double)USEC_PER_SEC);
	}
	segment_restore_done(s);
	conn_trigger_done(s, 0, NULL);
	segment_idle_check(s);
}

void segment_trigger(struct segment *s)
{
	_cleanup_free_ char *error = NULL;
	int r;

	/* only the first run after a restore adopts */
	s->adopting = s->restore_trigger;
	s->restore_trigger = false;
	segment_set_state(s, SEGMENT_TRIGGERING);
	if (s->adopting) {
		log_info("segment '%s': its trigger had run before the restart, adopting what it "
			 "started",
			 s->id);
	} else {
		log_info("segment '%s': first connection, running the trigger", s->id);
		s->stats.trigger_starts++;
	}
	s->trigger_start_usec = now_usec();
	s->tail_ops_armed = s->tail.ops;
	r = endpoint_copy(&s->tail_saved, &s->tail.ep);
	if (r < 0) {
		trigger_finished(s, r, NULL);
		return;
	}
	r = runner_start(s, s->sseg->trig, s->sseg->n_trig, true, trigger_finished, &error);
	if (r == 1)
		return;
	trigger_finished(s, r, TAKE_PTR(error));
}

/* ---- creation and deletion ---------------------------------------------------------------- */

static int on_retrigger(sd_event_source *src, void *userdata)
{
	struct segment *s = userdata;

	s->retrigger_src = sd_event_source_disable_unref(s->retrigger_src);
	if (s->state == SEGMENT_ARMED) {
		if (!s->restore_trigger)
			log_info("segment '%s': its trigger had run before the restart, running it "
				 "again",
				 s->id);
		segment_trigger(s); /* adopts (s->restore_trigger) */
	}
	return 0;
}

static int create_finish(struct segment *s, char **ret_error)
{
	_cleanup_free_ char *head = NULL, *tail = NULL;
	int r;

	r = s->head_ops->start(s, ret_error);
	if (r < 0)
		return r;
	if (s->sseg->n_trig == 0) {
		r = segment_complete_tail(s, ret_error);
		if (r < 0)
			return r;
		segment_set_state(s, SEGMENT_LISTENING);
	} else {
		segment_set_state(s, SEGMENT_ARMED);
	}
	r = segment_register(s);
	if (r < 0)
		return r;
	head = segment_head_url(s, true);
	tail = segment_tail_url(s);
	log_info("segment '%s' created: %s -> %s%s%s", s->id, head ?: "?", tail ?: "?",
		 s->parent ? ", child of " : "", s->parent ? s->parent->id : "");
	/* restored: a trigger that had run before the restart runs again now, so the segment is
	 * as it was (its containers adopted, its children there, with the ids they had) before a
	 * client arrives; that first run adopts (segment_trigger()) */
	if (s->state == SEGMENT_ARMED && s->restore && s->restore[0].triggered) {
		s->restore_trigger = true;
		if (sd_event_add_defer(s->d->event, &s->retrigger_src, on_retrigger, s) < 0) {
			log_warning(
				"segment '%s': cannot run its trigger again now; it runs on the "
				"first connection",
				s->id);
			s->restore_trigger = false;
		}
	}
	if (!s->restore_trigger)
		segment_restore_done(s);
	return 0;
}

static void create_after_init(struct segment *s, int r, char *error)
{
	segment_created_fn cb = s->create_cb;
	void *userdata = s->create_userdata;

	s->adopting = false;
	if (r >= 0)
		r = create_finish(s, &error);
	if (r < 0) {
		s = segment_free(s);
		cb(NULL, r, error, userdata);
		return;
	}
	cb(s, 0, NULL, userdata);
}

int segment_create(struct daemon *d, const char *id, struct spec *spec, const struct spec_seg *sseg,
		   const struct endpoint *head_init, struct segment *parent, segment_created_fn cb,
		   void *userdata, struct segment **ret, char **ret_error)
{
	return segment_create_with_head(d, &head_listen_ops, id, spec, sseg, head_init, parent, cb,
					userdata, ret, ret_error);
}

int segment_create_with_head(struct daemon *d, const struct head_ops *head_ops, const char *id,
			     struct spec *spec, const struct spec_seg *sseg,
			     const struct endpoint *head_init, struct segment *parent,
			     segment_created_fn cb, void *userdata, struct segment **ret,
			     char **ret_error)
{
	const struct segment_restore *from = NULL;
	struct segment *s;
	int r;

	*ret_error = NULL;
	if (id && segment_find(d, id)) {
		(void)errmsg_set(ret_error, "segment '%s' already exists", id);
		return -EEXIST;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->sseg = sseg;
	s->parent = parent;
	s->head = ENDPOINT_EMPTY;
	s->tail.ep = ENDPOINT_EMPTY;
	s->tail_saved = ENDPOINT_EMPTY;
	s->tail_armed = ENDPOINT_EMPTY;
	s->head_ops = head_ops;
	s->tail.ops = &tail_socket_ops;
	s->n_tails = 1;
	s->peek_usec = SEGMENT_PEEK_USEC;
	s->state = SEGMENT_CREATING;
	s->create_cb = cb;
	s->create_userdata = userdata;
	/* a child its restoring parent creates keeps the id it had, and is restored too */
	if (!id && parent && parent->n_restore > 1 && !segment_find(d, parent->restore[1].id)) {
		from = parent->restore + 1;
		id = from->id;
	}
	r = id ? ((s->id = strdup(id)) ? 0 : -ENOMEM) : generate_id(d, &s->id);
	if (r >= 0 && from)
		r = restore_copy(s, from, parent->n_restore - 1);
	else if (r >= 0 && !parent && d->hooks && d->hooks->restored &&
		 d->hooks->restored(d, s->id))
		r = restore_build(s);
	if (r >= 0 && sseg->n_tails > 1) { /* a segment that routes: its other tails */
		s->more_tails = calloc(sseg->n_tails - 1, sizeof(*s->more_tails));
		if (!s->more_tails)
			r = -ENOMEM;
		for (size_t k = 1; r >= 0 && k < sseg->n_tails; k++)
			s->more_tails[k - 1] = (struct segment_tail){ .ep = ENDPOINT_EMPTY,
								      .ops = &tail_socket_ops };
		if (r >= 0)
			s->n_tails = sseg->n_tails;
	}
	if (r >= 0 && head_init)
		r = endpoint_copy(&s->head, head_init);
	if (r >= 0 && s->head.container_id) /* a child listening inside its parent's container */
		r = container_watch_new(s, &s->head, s->head.container_id, s->head.container, 0,
					&s->head_watch);
	if (r < 0) {
		segment_free(s);
		return r;
	}
	/* a restored segment: its init words adopt; the orphan sweep waits for it */
	if (s->restore) {
		s->restore_counted = true;
		d->restores_pending++;
		s->adopting = true;
	}

	r = runner_start(s, sseg->init, sseg->n_init, false, create_after_init, ret_error);
	if (r != 1)
		s->adopting = false;
	if (r == 1) {
		s->spec = spec; /* ownership passes only on success; see segment_created_fn */
		*ret = s;
		return 1;
	}
	if (r >= 0)
		r = create_finish(s, ret_error);
	if (r < 0) {
		segment_free(s);
		return r;
	}
	s->spec = spec;
	*ret = s;
	return 0;
}

struct segment *segment_free(struct segment *s)
{
	if (!s)
		return NULL;
	s->runner = runner_free(s->runner);
	s->retrigger_src = sd_event_source_disable_unref(s->retrigger_src);
	segment_restore_done(s);
	if (s->head_ops)
		s->head_ops->stop(s);
	conn_free_all(s, "segment deleted");
	free(s->udp_waiting);
	s->udp_waiting = NULL;
	s->n_udp_waiting = 0;
	s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
	runner_undo(s, false); /* children, containers: in reverse */
	while (s->holds) {     /* removals go on; nobody waits for them any more */
		struct segment_hold *h = s->holds;

		LIST_REMOVE(holds, s->holds, h);
		h->s = NULL;
	}
	segment_remove_kept(s);
	s->head_watch = container_watch_free(s->head_watch);
	free(s->applied);
	segment_unregister(s);
	if (s->state != SEGMENT_CREATING)
		log_info("segment '%s' deleted", s->id);
	endpoint_done(&s->head);
	for (size_t k = 0; k < s->n_tails; k++)
		segment_tail_done(segment_tail_nth(s, k));
	free(s->more_tails);
	endpoint_done(&s->tail_saved);
	endpoint_done(&s->tail_armed);
	spec_free(s->spec);
	free(s->id);
	free(s);
	return NULL;
}

void segment_endpoint_set_down(struct segment *s, struct endpoint *e, bool down)
{
	_cleanup_free_ char *err = NULL;
	int r;

	e->down = down;
	if (e != &s->head || s->state == SEGMENT_CREATING)
		return;
	if (down) {
		s->head_ops->stop(s);
		return;
	}
	if (s->head_ops->active(s))
		return;
	r = s->head_ops->start(s, &err);
	if (r < 0) {
		e->down = true;
		log_error("segment '%s': cannot listen again: %s", s->id, err ?: strerror(-r));
		return;
	}
	log_info("segment '%s': listening again in the new namespace", s->id);
}

struct segment *segment_top(struct segment *s)
{
	while (s->parent)
		s = s->parent;
	return s;
}

void segment_bytes(const struct segment *s, uint64_t *ret_in, uint64_t *ret_out)
{
	uint64_t in = s->bytes_in_closed, out = s->bytes_out_closed;

	conn_bytes_live(s, &in, &out);
	*ret_in = in;
	*ret_out = out;
}

void daemon_free_all_segments(struct daemon *d)
{
	/* top segments free their descendants through their child words */
	while (d->segments)
		segment_free(segment_top(d->segments));
}
