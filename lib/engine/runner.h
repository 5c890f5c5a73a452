/* SPDX-License-Identifier: MIT */
/*
 * runner.h - running a segment's words through their ops, and undoing them
 *
 * The runner applies a list of words one after the other through the ops table the daemon was
 * given (struct daemon.ops). An op may finish later (a container start), so the runner is a
 * small state machine that resumes from the op's done callback. Every op that succeeded leaves an
 * entry in s->applied, so undo is a walk backwards over that array: on a failure halfway, on a
 * failed trigger (only the trigger's entries), and in segment_free(). A runner that is freed while
 * an op is pending cancels the op (whose done is then never called).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct runner;
struct segment;
struct spec_word;

/**
 * runner_finish_fn - the end of an asynchronous run
 * @r:		0 when every word applied, or a negative errno (this run's words are undone already)
 * @error:	on failure, a malloc'ed message (or NULL); ownership passes to the callback
 */
typedef void (*runner_finish_fn)(struct segment *s, int r, char *error);

/**
 * runner_start() - Apply @words to @s
 * @words, @n:	the words (borrowed; they live in the segment's spec)
 * @trig:	the words are the trigger's (undone alone when the trigger fails)
 * @finish:	called when 1 was returned, once the run ended
 * @ret_error:	on failure, a malloc'ed message
 *
 * While pending, s->runner is the run. Return: 0 done, 1 pending, <0 failed (nothing of this
 * run is left applied)
 */
int runner_start(struct segment *s, const struct spec_word *words, size_t n, bool trig,
		 runner_finish_fn finish, char **ret_error);

/**
 * runner_free() - Cancel a pending run (the pending op's cancel(); @finish is not called)
 * NULL is fine. Return: NULL
 */
struct runner *runner_free(struct runner *rn);

/**
 * runner_undo() - Undo applied words in reverse order; only the trigger's when @trig_only
 */
void runner_undo(struct segment *s, bool trig_only);
