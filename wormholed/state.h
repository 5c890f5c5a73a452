/* SPDX-License-Identifier: MIT */
/*
 * state.h - the daemon's state directory: its identity, its lock, and the segments it restores
 *
 * DIR (--state, default /var/lib/wormhole, or $STATE_DIRECTORY under systemd) holds:
 *   lock           flock()ed by the live daemon for its whole life (it holds its pid, for messages)
 *   daemon-id      16 hex digits made at the first start; containers carry wormhole.daemon=<id>
 *   segments.json  the segments created at run time, rewritten (atomically) after every change
 * segments.json also keeps every segment's counters by id (connections, bytes each way, the
 * struct segment_stats figures; chain-file segments too): a segment that comes back with the
 * same id continues from them, so metrics are not reset by an upgrade. They are saved with
 * every change, every 30 s while they move, and at stop.
 * A second daemon with the same directory finds the lock taken and refuses to run, so a daemon
 * id is held by at most one live daemon, and containers labelled with our id whose daemon is
 * gone are provably ours to adopt or remove once we hold the lock.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct daemon;
struct segment;
struct wh_state;

/* One top segment to restore: its id, its create words, and per segment of its chain (top
 * first) the id, port and trigger state it had. */
struct state_head {
	char *id;
	uint16_t port;
	bool triggered;
};

struct state_entry {
	char *id;
	bool leased; /* created over a peer link: its creator renews it (a lease), see peer.c */
	char **words;
	struct state_head *heads;
	size_t n_heads;
};

/**
 * state_default_dir() - The state directory for a daemon serving @ctl_path (default socket:
 * /var/lib/wormhole, or $STATE_DIRECTORY; another socket: a directory of its own under
 * /var/lib/wormhole/instances/, so daemons on different sockets never share an identity)
 * Return: malloc'ed path or NULL
 */
char *state_default_dir(const char *ctl_path, bool ctl_default);

/**
 * state_open() - Create @dir (0700) if needed, take its lock, read or make the daemon id
 * @dir:	borrowed
 * @ret:	on success; free with state_free() (which releases the lock)
 * @ret_error:	on failure, a malloc'ed message (e.g. another daemon holds the lock, with its pid)
 *
 * Return: 0, -EBUSY (another live daemon), or a negative errno
 */
int state_open(const char *dir, struct wh_state **ret, char **ret_error);

/**
 * state_free() - Release the lock and free. NULL is fine. Return: NULL
 */
struct wh_state *state_free(struct wh_state *st);

/**
 * state_daemon_id() - Return: the daemon id (borrowed)
 */
const char *state_daemon_id(const struct wh_state *st);

/**
 * state_load() - Read segments.json. A file that does not parse is logged, renamed to
 * segments.json.corrupt-<time> and treated as empty: never fatal.
 * @ret, @ret_n:	the entries (owned by @st, valid until state_free())
 *
 * Return: 0 or -ENOMEM
 */
int state_load(struct wh_state *st, const struct state_entry **ret, size_t *ret_n);

/**
 * state_find_head() - The restored record of segment @id, or NULL
 */
const struct state_head *state_find_head(const struct wh_state *st, const char *id);

/**
 * state_child_id() - The id the child of @parent_id had in the restored state, or NULL
 */
const char *state_child_id(const struct wh_state *st, const char *parent_id);

/**
 * state_restore_counters() - Add the counters saved for each segment of @d that is being
 * restored (same id) to its live ones; call once the restore is done, before
 * state_forget_restore(). A segment with no saved counters is left alone.
 * Return: how many segments got counters back
 */
unsigned state_restore_counters(const struct wh_state *st, struct daemon *d);

/**
 * state_counters_sum() - A figure that changes whenever any counter of @d moves (the sum of
 * connections and bytes): the saver compares it to know whether a save is due
 */
uint64_t state_counters_sum(const struct daemon *d);

enum state_keep {
	STATE_SKIP,	   /* not in the state file (a chain file's segment) */
	STATE_KEEP,	   /* restored as it is */
	STATE_KEEP_LEASED, /* restored with a lease its creator on a peer link must renew */
};

/**
 * state_serialize() - The state file's text: every registered top segment of @d that @keep()
 * does not skip (those from chain files are skipped: their files are). On the loop.
 * @ret:	malloc'ed, NUL-terminated; @ret_len its length
 *
 * Return: 0 or -ENOMEM
 */
int state_serialize(struct daemon *d, enum state_keep (*keep)(const struct segment *s), char **ret,
		    size_t *ret_len);

/**
 * state_write() - Write @buf to segments.json.tmp, fsync, rename over segments.json. Touches
 * nothing but the state directory's fd: safe on another thread (the fsync may take long).
 *
 * Return: 0 or a negative errno (logged by the caller)
 */
int state_write(struct wh_state *st, const char *buf, size_t len);

/**
 * state_forget_restore() - The restore is over: later segments with the same ids start fresh
 */
void state_forget_restore(struct wh_state *st);
