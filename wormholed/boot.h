/* SPDX-License-Identifier: MIT */
/*
 * boot.h - the daemon's start: chain files, the restore, READY=1, and keeping the state file
 *
 * boot_start() creates a segment for every chain file (--chains DIR) and then re-creates the
 * segments of the state file (same ids, same ports, listeners from the fd store, triggers that
 * had run run again). When every creation has finished, the restore is over: stored listeners
 * no segment took leave the fd store, READY=1 is sent with a STATUS= line, and from then on
 * every change to the segments rewrites the state file (coalesced, at most once per 200 ms).
 */
#pragma once

#include <stdbool.h>

struct daemon;
struct wh_state;

/**
 * boot_start() - Create the segments of @chains_dir (may be NULL) and of @st's state file
 * @d, @st:	borrowed; they outlive the boot
 *
 * Return: 0 or -ENOMEM (a segment that cannot be created is logged and skipped)
 */
int boot_start(struct daemon *d, struct wh_state *st, const char *chains_dir);

/**
 * boot_stopping() - The daemon is stopping: from now on nothing is written to the state file
 * or removed from the fd store (the segments are restored at the next start)
 */
void boot_stopping(void);

/**
 * boot_set_leases() - How the state file learns which segments were created over a peer link
 * (@query), and how one restored from it gets its lease back (@restore: it runs, and the
 * segment goes unless its creator renews it in time). Set before boot_start(), by the peer server.
 */
void boot_set_leases(bool (*query)(const char *id, void *userdata),
		     void (*restore)(const char *id, void *userdata), void *userdata);

/**
 * boot_free() - Release the boot's timers and tables
 */
void boot_free(void);
