/* SPDX-License-Identifier: MIT */
/*
 * docker-ns.c - `docker-ns C`: the head or tail lives in container C's network namespace
 *
 * C is a name, a full id or a unique id prefix, resolved through the Engine API (an ambiguous
 * prefix is an error listing the matches). The namespace comes from State.Pid and is opened at
 * once; the container is then followed (wormholed/containers.c), so after `docker restart C` new
 * connections reach the new namespace by themselves.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chains.h"
#include "containers.h"
#include "docker.h"
#include "errmsg.h"
#include "segment.h"

struct docker_ns {
	struct segment *s;
	struct endpoint *target;
	const struct spec_word *w;
	struct docker_op *op;
	chain_done_fn done;
	void *userdata;
	struct container_watch *watch;
};

static void fail(struct docker_ns *st, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct docker_ns *st, int r, const char *fmt, ...)
{
	chain_done_fn done = st->done;
	void *userdata = st->userdata;
	char *msg = NULL;
	char *m = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	(void)errmsg_set(&msg, "word %u 'docker-ns': %s", st->w->pos, m ?: strerror(-r));
	free(m);
	free(st);
	done(userdata, r, NULL, msg);
}

static void on_inspected(struct docker *dk, int r, const char *error,
			 const struct docker_container_info *info, void *userdata)
{
	struct docker_ns *st = userdata;

	st->op = NULL;
	if (r < 0) {
		fail(st, r, "%s", error ?: strerror(-r));
		return;
	}
	if (!info->running || info->pid <= 0) {
		fail(st, -ESRCH, "container '%s' is not running", info->name ?: st->w->arg);
		return;
	}
	r = container_watch_new(st->s, st->target, info->id, info->name, info->pid, &st->watch);
	if (r < 0) {
		fail(st, r, "cannot enter the network namespace of container '%s'",
		     info->name ?: st->w->arg);
		return;
	}
	st->done(st->userdata, 0, st, NULL);
}

static int docker_ns_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
			   void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	struct docker_ns *st;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	*st = (struct docker_ns){
		.s = s, .target = target, .w = w, .done = done, .userdata = userdata
	};
	r = docker_inspect(s->d->docker, w->arg, on_inspected, st, &st->op);
	if (r < 0) {
		free(st);
		return r;
	}
	*ret_state = st;
	return 1;
}

static void docker_ns_cancel(struct segment *s, void *pending)
{
	struct docker_ns *st = pending;

	if (st->op)
		docker_op_cancel(st->op);
	free(st);
}

static void docker_ns_undo(struct segment *s, void *state)
{
	struct docker_ns *st = state;

	container_watch_free(st->watch);
	free(st);
}

const struct chain_op chain_op_docker_ns = {
	.apply = docker_ns_apply,
	.cancel = docker_ns_cancel,
	.undo = docker_ns_undo,
};
