/* SPDX-License-Identifier: MIT */
/*
 * test-runner.c - the engine's word runner and undo, with fake word ops
 *
 * The engine runs words only through the ops table it is given (struct daemon.ops), so these
 * tests hand it fake ops that record what they did: "ok" applies at once, "async" completes from
 * the event loop a moment later, "fail" fails. They check that a failure halfway undoes exactly
 * what was applied, in reverse; that deleting a segment with a pending op cancels the op and
 * undoes the rest; that an op completing after its segment was deleted reaches nobody; that a
 * failed trigger undoes only the trigger's words and re-arms the segment; and that a restored
 * segment whose trigger had run applies its trigger words in adopt mode once (no trigger counted,
 * a failure re-arms quietly) and keeps its containers only when the daemon exits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "ioloop.h"
#include "log.h"
#include "relay.h"
#include "segment.h"
#include "spec.h"
#include "strv.h"
#include "word-ops.h"

/* What the fake ops did, in order: "+url" applied, "-url" undone, "x" cancelled... */
static char journal[512];
static unsigned adopting_applies; /* applies made while segment_adopting() */

static void note(const char *what, const struct spec_word *w)
{
	size_t n = strlen(journal);

	snprintf(journal + n, sizeof(journal) - n, "%s%s%s", n ? " " : "", what,
		 w ? spec_word_name(w->type) : "");
}

struct pending {
	sd_event_source *timer;
	const struct spec_word *w;
	chain_done_fn done;
	void *userdata;
	bool cancelled; /* the op could not be stopped: it completes, but must reach nobody */
	bool *freed;
};

static int ok_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
		    void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	note("+", w);
	adopting_applies += segment_adopting(s);
	if (w->tail)
		target->port = 9; /* a tail that is not the head */
	*ret_state = (void *)(uintptr_t)w;
	return 0;
}

static void ok_undo(struct segment *s, void *state)
{
	note("-", state);
}

static int fail_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
		      void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	note("!", w);
	adopting_applies += segment_adopting(s);
	*ret_error = strdup("fake failure");
	return -EIO;
}

static bool late_completion_reached_nobody;

static int on_async(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct pending *p = userdata;

	sd_event_source_unref(p->timer);
	if (p->cancelled) {
		late_completion_reached_nobody = true;
		free(p);
		return 0;
	}
	note("+", p->w);
	p->done(p->userdata, 0, (void *)(uintptr_t)p->w, NULL);
	free(p);
	return 0;
}

static int async_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
		       void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	struct pending *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	*p = (struct pending){ .w = w, .done = done, .userdata = userdata };
	assert_int_equal(sd_event_add_time_relative(s->d->event, &p->timer, CLOCK_MONOTONIC, 2000,
						    0, on_async, p),
			 0);
	note("...", w);
	adopting_applies += segment_adopting(s);
	*ret_state = p;
	return 1;
}

static void async_cancel(struct segment *s, void *pending)
{
	struct pending *p = pending;

	note("x", p->w);
	p->cancelled = true; /* like a Docker request in flight: it still completes later */
}

static const struct chain_op op_ok = { .apply = ok_apply, .undo = ok_undo };
static const struct chain_op op_async = { .apply = async_apply,
					  .cancel = async_cancel,
					  .undo = ok_undo };
static const struct chain_op op_fail = { .apply = fail_apply, .undo = ok_undo };

/* url: ok, docker-ns: async, docker-run: fail */
static const struct chain_op *const fake_ops[_SPEC_WORD_TYPE_MAX] = {
	[SPEC_URL] = &op_ok,
	[SPEC_DOCKER_NS] = &op_async,
	[SPEC_DOCKER_RUN] = &op_fail,
};

struct fixture {
	struct daemon d;
	struct segment *created;
	int created_r;
	char *created_error;
	bool created_called;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(sd_event_new(&f->d.event), 0);
	assert_int_equal(ioloop_new(f->d.event, &f->d.loop), 0);
	assert_int_equal(pipe_pool_new(4, &f->d.pipes), 0);
	f->d.ops = fake_ops;
	f->d.connect_timeout_usec = 1000 * 1000;
	f->d.udp_idle_usec = 1000 * 1000;
	f->d.max_conns = 16;
	f->d.instance = "/nonexistent/test-runner.sock";
	journal[0] = 0;
	adopting_applies = 0;
	late_completion_reached_nobody = false;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	daemon_free_all_segments(&f->d);
	/* let late completions of cancelled ops run out */
	for (int i = 0; i < 20; i++)
		(void)sd_event_run(f->d.event, 1000);
	free(f->created_error);
	f->d.pipes = pipe_pool_free(f->d.pipes);
	f->d.loop = ioloop_free(f->d.loop);
	f->d.event = sd_event_unref(f->d.event);
	free(f);
	return 0;
}

static void on_created(struct segment *s, int r, char *error, void *userdata)
{
	struct fixture *f = userdata;

	f->created_called = true;
	f->created = s;
	f->created_r = r;
	f->created_error = error;
}

static struct spec *parse(const char *const *words)
{
	_cleanup_(strv_freep) char **v = NULL;
	struct spec *sp = NULL;
	_cleanup_free_ char *err = NULL;
	size_t n = 0;

	for (; *words; words++)
		assert_int_equal(strv_push_dup(&v, &n, *words), 0);
	if (spec_parse(v, &sp, &err) < 0)
		fail_msg("spec_parse: %s", err);
	return sp;
}

static void run_until(struct fixture *f, bool *cond)
{
	for (int i = 0; i < 200 && !*cond; i++)
		assert_true(sd_event_run(f->d.event, 10 * 1000) >= 0);
	assert_true(*cond);
}

static void test_all_ok_sync(void **state)
{
	struct fixture *f = *state;
	const char *words[] = { "url", "127.0.0.1", "tail", "url", ":9", NULL };
	struct spec *sp = parse(words);
	struct segment *s = NULL;
	_cleanup_free_ char *err = NULL;

	assert_int_equal(
		segment_create(&f->d, "a", sp, sp->top, NULL, NULL, on_created, f, &s, &err), 0);
	assert_non_null(s);
	assert_ptr_equal(segment_find(&f->d, "a"), s);
	assert_int_equal(s->state, SEGMENT_LISTENING);
	assert_string_equal(journal, "+url +url");
	segment_free(s);
	assert_string_equal(journal, "+url +url -url -url");
	assert_null(f->d.segments);
}

static void test_failure_halfway_undoes_in_reverse(void **state)
{
	struct fixture *f = *state;
	const char *words[] = { "url", "127.0.0.1", "docker-ns",  "c1",	 "tail",
				"url", ":9",	    "docker-run", "img", NULL };
	struct spec *sp = parse(words); /* the pending segment owns it, and frees it on failure */
	struct segment *s = NULL;
	_cleanup_free_ char *err = NULL;

	assert_int_equal(
		segment_create(&f->d, "b", sp, sp->top, NULL, NULL, on_created, f, &s, &err), 1);
	run_until(f, &f->created_called);
	assert_null(f->created);
	assert_int_equal(f->created_r, -EIO);
	assert_string_equal(f->created_error, "fake failure");
	/* applied url, docker-ns (later), url; docker-run failed; undone in reverse */
	assert_string_equal(journal, "+url ...docker-ns +docker-ns +url !docker-run -url "
				     "-docker-ns -url");
	assert_null(segment_find(&f->d, "b"));
	assert_null(f->d.segments);
}

static void test_delete_while_pending_cancels(void **state)
{
	struct fixture *f = *state;
	const char *words[] = { "url", "127.0.0.1", "docker-ns", "c1", NULL };
	struct spec *sp = parse(words);
	struct segment *s = NULL;
	_cleanup_free_ char *err = NULL;
	int r;

	r = segment_create(&f->d, "c", sp, sp->top, NULL, NULL, on_created, f, &s, &err);
	assert_int_equal(r, 1);
	assert_non_null(s);
	assert_null(segment_find(&f->d, "c")); /* not registered until done */
	segment_free(s);		       /* e.g. the client went away */
	assert_string_equal(journal, "+url ...docker-ns xdocker-ns -url");
	/* the op could not be stopped and completes later: nobody must hear of it */
	run_until(f, &late_completion_reached_nobody);
	assert_false(f->created_called);
	assert_string_equal(journal, "+url ...docker-ns xdocker-ns -url");
}

static void test_failed_trigger_undoes_only_its_words(void **state)
{
	struct fixture *f = *state;
	const char *words[] = { "url", "127.0.0.1",  "trigger", "docker-ns",
				"c1",  "docker-run", "img",	NULL };
	struct spec *sp = parse(words);
	struct segment *s = NULL;
	_cleanup_free_ char *err = NULL;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	_cleanup_close_ int fd = -EBADF;
	char b;

	assert_int_equal(
		segment_create(&f->d, "t", sp, sp->top, NULL, NULL, on_created, f, &s, &err), 0);
	assert_int_equal(s->state, SEGMENT_ARMED);
	assert_string_equal(journal, "+url");
	assert_non_null(s->head.host);
	assert_int_not_equal(s->head.port, 0);

	/* the first connection runs the trigger: docker-ns applies later, docker-run fails */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	sin.sin_port = htons(s->head.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	for (int i = 0; i < 200 && !strstr(journal, "-docker-ns"); i++)
		assert_true(sd_event_run(f->d.event, 10 * 1000) >= 0);
	assert_string_equal(journal, "+url ...docker-ns +docker-ns !docker-run -docker-ns");
	assert_int_equal(s->state, SEGMENT_ARMED); /* armed again, init words kept */
	assert_int_equal(s->n_applied, 1);
	/* the waiting connection was closed */
	assert_int_equal(read(fd, &b, 1), 0);
	assert_int_equal(s->conns_active, 0);
	segment_free(s);
	assert_string_equal(journal, "+url ...docker-ns +docker-ns !docker-run -docker-ns -url");
}

/* What a restore hands the engine: every segment comes from the state file, triggered */
static bool hook_yes(struct daemon *d, const char *id)
{
	return true;
}

static bool hook_persists(struct daemon *d, const struct segment *s)
{
	return !s->parent;
}

static const struct daemon_hooks restore_hooks = {
	.restore_triggered = hook_yes,
	.restored = hook_yes,
	.persists = hook_persists,
};

static void test_restore_adopts_once(void **state)
{
	struct fixture *f = *state;
	const char *words[] = {
		"url", "127.0.0.1", "trigger", "url", ":9", "docker-ns", "c1", NULL
	};
	struct spec *sp = parse(words);
	struct segment *s = NULL;
	_cleanup_free_ char *err = NULL;

	f->d.hooks = &restore_hooks;
	assert_int_equal(
		segment_create(&f->d, "r", sp, sp->top, NULL, NULL, on_created, f, &s, &err), 0);
	/* the init word adopted (a restored top segment), the trigger waits for the loop */
	assert_int_equal(adopting_applies, 1);
	assert_int_equal(s->state, SEGMENT_ARMED);
	assert_int_equal(f->d.restores_pending, 1);
	assert_false(segment_adopting(s));
	for (int i = 0; i < 200 && s->state != SEGMENT_LISTENING; i++)
		assert_true(sd_event_run(f->d.event, 10 * 1000) >= 0);
	assert_int_equal(s->state, SEGMENT_LISTENING);
	assert_string_equal(journal, "+url +url ...docker-ns +docker-ns");
	assert_int_equal(adopting_applies, 3);
	assert_false(segment_adopting(s));
	assert_int_equal(f->d.restores_pending, 0);
	assert_int_equal(s->stats.trigger_starts, 0); /* adopting is not a trigger run */
	assert_int_equal(s->stats.trigger_count, 0);
	/* containers stay only when the daemon exits, and only for a segment it saves */
	assert_false(segment_keeps_containers(s));
	f->d.exiting = true;
	assert_true(segment_keeps_containers(s));
	f->d.exiting = false;
}

static void test_restore_nothing_to_adopt_rearms(void **state)
{
	struct fixture *f = *state;
	const char *words[] = { "url", "127.0.0.1", "trigger", "docker-run", "img", NULL };
	struct spec *sp = parse(words);
	struct segment *s = NULL;
	_cleanup_free_ char *err = NULL;

	f->d.hooks = &restore_hooks;
	assert_int_equal(
		segment_create(&f->d, "g", sp, sp->top, NULL, NULL, on_created, f, &s, &err), 0);
	for (int i = 0; i < 200 && !strstr(journal, "!docker-run"); i++)
		assert_true(sd_event_run(f->d.event, 10 * 1000) >= 0);
	assert_string_equal(journal, "+url !docker-run");
	assert_int_equal(adopting_applies, 2);
	assert_int_equal(s->state, SEGMENT_ARMED);
	assert_int_equal(s->stats.trigger_failures, 0); /* not a failure: re-armed */
	assert_int_equal(f->d.restores_pending, 0);
	assert_false(segment_adopting(s));
	/* only the first run adopts: the next trigger run is a plain one */
	segment_trigger(s);
	assert_int_equal(adopting_applies, 2);
	assert_int_equal(s->stats.trigger_starts, 1);
	assert_int_equal(s->stats.trigger_failures, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all_ok_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_halfway_undoes_in_reverse, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_delete_while_pending_cancels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_trigger_undoes_only_its_words, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_restore_adopts_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_nothing_to_adopt_rearms, setup,
						teardown),
	};

	log_setup("test-runner", LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
