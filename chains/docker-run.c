/* SPDX-License-Identifier: MIT */
/*
 * docker-run.c - `docker-run 'ARGS'`: start a container; the head or tail lives in its namespace
 *
 * ARGS is `[docker run flags] IMAGE [CMD...]` (lib/docker-args), mapped onto create + start
 * through the Engine API, pulling a missing image (progress goes to the client that asked). Every
 * container carries wormhole.segment=<id>, wormhole.daemon=<daemon id> and wormhole.word=<which
 * word: init.N or trig.N>, is followed like a docker-ns container, and is removed when the word
 * is undone: a failure later in the chain, a failed trigger, an idle stop (or stopped and kept),
 * `delete`, or the daemon's exit if the segment is not saved in the state file (a chain-file
 * segment, a child).
 *
 * The containers of a segment saved in the state file outlive the daemon's exit (SIGTERM, or a
 * crash): when the segment is restored at the next start, the word adopts its container instead
 * of starting one (segment_adopting()): it lists the containers labelled with the segment's id
 * and takes the one that also carries our daemon id and this word's label. Running, it is
 * followed and recorded as if started now, so `delete` and an idle stop undo it; stopped, it is
 * started again (a failure there removes it and runs a new one). When none is found, an init
 * word starts a new one and a trigger word fails with -ENOENT, which re-arms the trigger quietly
 * (segment.c): the next connection starts one. What is not adopted is left to the orphan sweep.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chains.h"
#include "cleanup.h"
#include "containers.h"
#include "docker-args.h"
#include "docker.h"
#include "errmsg.h"
#include "log.h"
#include "segment.h"
#include "spec.h"
#include "strv.h"

struct docker_run {
	struct segment *s;
	struct endpoint *target;
	const struct spec_word *w;
	struct docker_op *op;
	chain_done_fn done;
	void *userdata;
	struct container_watch *watch;
	char *id;
	char *name;
	char *resume_id; /* a container kept by an idle stop, started again */
	char **found;	 /* a restore: the segment's containers, tried in turn */
	size_t next_found;
	bool adopted; /* the container came from the previous run, running */
};

static void docker_run_free(struct docker_run *st)
{
	free(st->id);
	free(st->name);
	free(st->resume_id);
	strv_free(st->found);
	free(st);
}

/* "init.N" / "trig.N": which word of its segment @w is, stable across a restart (the state file
 * keeps the words) */
static int word_label(const struct segment *s, const struct spec_word *w, char **ret)
{
	const struct spec_seg *g = s->sseg;
	bool init = w >= g->init && w < g->init + g->n_init;

	if (asprintf(ret, "%s.%td", init ? "init" : "trig", init ? w - g->init : w - g->trig) < 0)
		return -ENOMEM;
	return 0;
}

static void on_started(struct docker *dk, int r, const char *error,
		       const struct docker_container_info *info, void *userdata);
static void on_progress(struct docker *dk, const char *text, void *userdata);

/* create + start a new container for @st; 0 (on_started follows) or -errno with *ret_error */
static int docker_run_create(struct docker_run *st, char **ret_error)
{
	_cleanup_(strv_freep) char **labels = NULL;
	_cleanup_free_ char *err = NULL, *word = NULL;
	struct docker_run_args args = { 0 };
	int r;

	r = docker_run_args_parse(st->w->arg, &args, &err);
	if (r < 0) {
		(void)errmsg_set(ret_error, "word %u 'docker-run': %s", st->w->pos,
				 err ?: strerror(-r));
		return r;
	}
	r = word_label(st->s, st->w, &word);
	if (r >= 0)
		r = containers_labels(st->s, word, &labels);
	if (r >= 0)
		r = docker_create_and_start(st->s->d->docker, &args, (const char *const *)labels,
					    on_progress, on_started, st, &st->op);
	docker_run_args_done(&args);
	return r;
}

/* Seconds an idle stop gives the container between SIGTERM and SIGKILL. */
#define IDLE_STOP_TIMEOUT_SEC 10

/*
 * A removal in the background; a segment stopping for idleness waits for it (its hold). An idle
 * stop first stops the container gracefully, then removes it, or keeps it for the word @w.
 */
struct removal {
	char *id;
	struct segment_hold *hold;
	const struct spec_word *w;
	bool keep;
};

static void removal_free(struct removal *rm)
{
	segment_hold_release(rm->hold);
	free(rm->id);
	free(rm);
}

static void on_removed(struct docker *dk, int r, const char *error, void *userdata)
{
	struct removal *rm = userdata;

	if (r < 0)
		log_warning("cannot remove container %.12s: %s", rm->id, error ?: strerror(-r));
	else
		log_info("removed container %.12s", rm->id);
	removal_free(rm);
}

static void on_stopped(struct docker *dk, int r, const char *error, void *userdata)
{
	struct removal *rm = userdata;
	struct segment *s = segment_hold_segment(rm->hold);

	if (r < 0) {
		log_warning("cannot stop container %.12s: %s; removing it", rm->id,
			    error ?: strerror(-r));
		rm->keep = false;
	}
	if (rm->keep && s && segment_kept_put(s, rm->w, rm->id) >= 0) {
		log_info("segment '%s': stopped container %.12s, kept for the next connection",
			 s->id, rm->id);
		removal_free(rm);
		return;
	}
	if (docker_remove(dk, rm->id, on_removed, rm, NULL) < 0) {
		log_warning("cannot remove container %.12s: out of memory", rm->id);
		removal_free(rm);
	}
}

static void remove_container(struct segment *s, const struct spec_word *w, const char *id)
{
	struct removal *rm = calloc(1, sizeof(*rm));
	bool idle = s->state == SEGMENT_STOPPING;
	int r;

	if (rm)
		rm->id = strdup(id);
	if (!rm || !rm->id) {
		log_warning("cannot remove container %.12s: out of memory", id);
		free(rm);
		return;
	}
	rm->w = w;
	rm->keep = idle && s->idle_keep;
	rm->hold = segment_hold_new(s);
	/* deleting is immediate (force); an idle stop lets the container end cleanly */
	if (idle)
		r = docker_stop(s->d->docker, rm->id, IDLE_STOP_TIMEOUT_SEC, on_stopped, rm, NULL);
	else
		r = docker_remove(s->d->docker, rm->id, on_removed, rm, NULL);
	if (r < 0) {
		log_warning("cannot remove container %.12s: out of memory", id);
		removal_free(rm);
	}
}

static void on_progress(struct docker *dk, const char *text, void *userdata)
{
	struct docker_run *st = userdata;
	struct daemon *d = st->s->d;

	log_info("segment '%s': %s", st->s->id, text);
	if (d->progress)
		d->progress(d, segment_top(st->s), text);
}

static void on_started(struct docker *dk, int r, const char *error,
		       const struct docker_container_info *info, void *userdata)
{
	struct docker_run *st = userdata;
	chain_done_fn done = st->done;
	void *ud = st->userdata;
	_cleanup_free_ char *create_err = NULL;
	char *msg = NULL;

	st->op = NULL;
	if (r < 0 && st->resume_id) {
		/* the kept container cannot run again: remove it, and run a new one */
		log_warning("segment '%s': kept container %.12s does not start again (%s); "
			    "running a new one",
			    st->s->id, st->resume_id, error ?: strerror(-r));
		remove_container(st->s, st->w, st->resume_id);
		free(st->resume_id);
		st->resume_id = NULL;
		r = docker_run_create(st, &create_err);
		if (r >= 0)
			return;
		error = create_err;
	}
	if (r >= 0) {
		st->id = strdup(info->id);
		st->name = strdup(info->name ?: info->id);
		if (!st->id || !st->name) {
			r = -ENOMEM;
			remove_container(st->s, st->w, info->id);
		}
	}
	if (r >= 0) {
		r = container_watch_new(st->s, st->target, info->id, info->name, info->pid,
					&st->watch);
		if (r < 0) {
			error = "cannot enter the container's network namespace";
			remove_container(st->s, st->w, info->id);
		}
	}
	if (r < 0) {
		(void)errmsg_set(&msg, "word %u 'docker-run': %s", st->w->pos,
				 error ?: strerror(-r));
		docker_run_free(st);
		done(ud, r, NULL, msg);
		return;
	}
	if (!st->adopted)
		st->s->stats.container_starts++;
	log_info("segment '%s': %s container '%s' (%.12s, pid %d)", st->s->id,
		 st->adopted	 ? "adopted the running"
		 : st->resume_id ? "started kept"
				 : "started",
		 st->name, st->id, (int)info->pid);
	done(ud, 0, st, NULL);
}

/* ---- a restore: adopt the container the previous run left ---------------------------------- */

static int adopt_next(struct docker_run *st);

/* Nothing (more) to adopt: an init word starts a new container, a trigger word fails, which
 * re-arms the trigger (segment.c). */
static void adopt_none(struct docker_run *st)
{
	_cleanup_free_ char *err = NULL;
	chain_done_fn done = st->done;
	void *ud = st->userdata;
	char *msg = NULL;
	int r;

	if (st->s->state == SEGMENT_CREATING) {
		log_info("segment '%s': no container of word %u left from before the restart, "
			 "starting one",
			 st->s->id, st->w->pos);
		r = docker_run_create(st, &err);
		if (r >= 0)
			return;
	} else {
		r = -ENOENT;
		err = strdup("its container is gone");
	}
	(void)errmsg_set(&msg, "word %u 'docker-run': %s", st->w->pos, err ?: strerror(-r));
	docker_run_free(st);
	done(ud, r, NULL, msg);
}

static bool labels_have(char *const *labels, const char *label)
{
	for (; labels && *labels; labels++)
		if (strcmp(*labels, label) == 0)
			return true;
	return false;
}

static void on_adopt_inspect(struct docker *dk, int r, const char *error,
			     const struct docker_container_info *info, void *userdata)
{
	_cleanup_free_ char *word = NULL, *want_daemon = NULL, *want_word = NULL;
	struct docker_run *st = userdata;

	st->op = NULL;
	if (r >= 0 && word_label(st->s, st->w, &word) < 0)
		r = -ENOMEM;
	if (r >= 0 && asprintf(&want_daemon, "wormhole.daemon=%s", st->s->d->instance) < 0) {
		want_daemon = NULL;
		r = -ENOMEM;
	}
	if (r >= 0 && asprintf(&want_word, "wormhole.word=%s", word) < 0) {
		want_word = NULL;
		r = -ENOMEM;
	}
	if (r < 0 || !labels_have(info->labels, want_daemon) ||
	    !labels_have(info->labels, want_word)) {
		if (r < 0 && r != -ENOENT)
			log_warning("segment '%s': cannot inspect container %.12s: %s, ignoring it",
				    st->s->id, st->found[st->next_found - 1],
				    error ?: strerror(-r));
		if (adopt_next(st) < 0)
			adopt_none(st);
		return;
	}
	if (info->running && info->pid > 0) {
		st->adopted = true;
		on_started(dk, 0, NULL, info, st);
		return;
	}
	/* stopped meanwhile: start it again, as a container kept by an idle stop is */
	log_info("segment '%s': container '%s' (%.12s) from before the restart is stopped, "
		 "starting it",
		 st->s->id, info->name ?: info->id, info->id);
	st->resume_id = strdup(info->id);
	if (!st->resume_id ||
	    docker_start(st->s->d->docker, st->resume_id, on_started, st, &st->op) < 0) {
		free(st->resume_id);
		st->resume_id = NULL;
		adopt_none(st);
	}
}

/* Inspects the next container found; -ENOENT when none is left. */
static int adopt_next(struct docker_run *st)
{
	while (st->found && st->found[st->next_found]) {
		const char *id = st->found[st->next_found++];

		if (docker_inspect(st->s->d->docker, id, on_adopt_inspect, st, &st->op) >= 0)
			return 0;
	}
	return -ENOENT;
}

static void on_adopt_list(struct docker *dk, int r, const char *error, char *const *ids,
			  void *userdata)
{
	struct docker_run *st = userdata;
	size_t n = 0;

	st->op = NULL;
	if (r < 0)
		log_warning("segment '%s': cannot look for its container from before the restart: "
			    "%s",
			    st->s->id, error ?: strerror(-r));
	for (char *const *id = ids; r >= 0 && *id; id++)
		r = strv_push_dup(&st->found, &n, *id);
	if (r == -ENOMEM)
		log_warning("segment '%s': out of memory looking for its container", st->s->id);
	if (adopt_next(st) < 0)
		adopt_none(st);
}

static int docker_run_adopt(struct docker_run *st)
{
	_cleanup_free_ char *label = NULL;

	if (asprintf(&label, "wormhole.segment=%s", st->s->id) < 0)
		return -ENOMEM;
	return docker_list_by_label(st->s->d->docker, label, on_adopt_list, st, &st->op);
}

static int docker_run_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
			    void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	struct docker_run *st;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	*st = (struct docker_run){
		.s = s, .target = target, .w = w, .done = done, .userdata = userdata
	};
	st->resume_id = segment_kept_take(s, w);
	if (st->resume_id)
		r = docker_start(s->d->docker, st->resume_id, on_started, st, &st->op);
	else if (segment_adopting(s))
		r = docker_run_adopt(st);
	else
		r = docker_run_create(st, ret_error);
	if (r < 0) {
		if (st->resume_id)
			remove_container(s, w, st->resume_id);
		docker_run_free(st);
		return r;
	}
	*ret_state = st;
	return 1;
}

static void docker_run_cancel(struct segment *s, void *pending)
{
	struct docker_run *st = pending;

	/* a create already sent is removed by the client in the background */
	if (st->op)
		docker_op_cancel(st->op);
	docker_run_free(st);
}

static void docker_run_undo(struct segment *s, void *state)
{
	struct docker_run *st = state;

	container_watch_free(st->watch);
	if (st->id && segment_keeps_containers(s)) {
		log_info("segment '%s': leaving container '%s' (%.12s) running: the segment is in "
			 "the state file, the next start adopts it",
			 s->id, st->name, st->id);
	} else if (st->id) {
		s->stats.container_stops++;
		remove_container(s, st->w, st->id);
	}
	docker_run_free(st);
}

const struct chain_op chain_op_docker_run = {
	.apply = docker_run_apply,
	.cancel = docker_run_cancel,
	.undo = docker_run_undo,
};
