/* SPDX-License-Identifier: MIT */
/*
 * segment-internal.h - what segment.c shares with segment-tails.c and segment-idle.c; not for
 * other files
 */
#pragma once

#include "list.h"

struct segment;
struct segment_tail;

/* an asynchronous undo of a stop in progress (segment_hold_new()) */
struct segment_hold {
	struct segment *s; /* NULL once the segment is gone */
	LIST_FIELDS(struct segment_hold, holds);
};

struct segment_kept {
	const void *key;
	char *id;
};

/**
 * segment_tail_done() - Free what one tail of a segment holds (its endpoint, names, kind's data)
 */
void segment_tail_done(struct segment_tail *t);

/**
 * segment_remove_kept() - The segment goes: remove the containers `idle TIME,keep` kept stopped
 */
void segment_remove_kept(struct segment *s);
