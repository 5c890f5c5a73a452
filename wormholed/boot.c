/* SPDX-License-Identifier: MIT */
/*
 * boot.c - chain files and the restore at start, the hooks the engine calls, the state file
 *
 * The engine asks wormholed, through struct daemon_hooks, for what only the process knows: the
 * sockets systemd passed (systemd.c), the listeners and ports the previous run had and the
 * triggers that had run (state.c), which segments are restored (their docker-run words adopt the
 * containers the previous run left) and which are saved in the state file (their containers
 * outlive the daemon's exit). Creations at start may finish later (a Docker container);
 * a counter of pending ones decides when the daemon is ready.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "boot.h"
#include "chainfiles.h"
#include "chains.h"
#include "cleanup.h"
#include "errmsg.h"
#include "head.h"
#include "log.h"
#include "segment.h"
#include "spec.h"
#include "state.h"
#include "strv.h"
#include "systemd.h"

#define SAVE_DELAY_USEC	   (200 * 1000ULL)
#define STATUS_EVERY_USEC  (10 * 1000 * 1000ULL)
#define COUNTERS_SAVE_USEC (30 * 1000 * 1000ULL) /* counters that moved are saved this often */

static struct wh_state *state;
static struct daemon *daemon_;
static unsigned pending, failed;
static bool booting, stopping;
static char **file_ids; /* top segments from chain files: their files are their state */
static size_t n_file_ids;
static sd_event_source *save_src, *status_src;
static uint64_t counters_saved, counters_check_usec; /* state_counters_sum() at the last save */

/* ---- hooks -------------------------------------------------------------------------------- */

static int hook_inherited_fd(struct daemon *d, const char *name)
{
	return sysd_inherited_fd(name);
}

static int hook_stored_listener(struct daemon *d, const char *id)
{
	return sysd_stored_listener(id);
}

static void hook_listener_up(struct daemon *d, const char *id, int fd, bool adopted)
{
	if (!adopted)
		sysd_store_listener(id, fd);
}

static void hook_listener_down(struct daemon *d, const char *id)
{
	if (!stopping)
		sysd_unstore_listener(id);
}

static uint16_t hook_restore_port(struct daemon *d, const char *id)
{
	const struct state_head *h = booting ? state_find_head(state, id) : NULL;

	return h ? h->port : 0;
}

static const char *hook_restore_child_id(struct daemon *d, const char *parent_id)
{
	return booting ? state_child_id(state, parent_id) : NULL;
}

static bool hook_restore_triggered(struct daemon *d, const char *id)
{
	const struct state_head *h = booting ? state_find_head(state, id) : NULL;

	return h && h->triggered;
}

static bool keep_in_state(const struct segment *s)
{
	for (size_t i = 0; i < n_file_ids; i++)
		if (strcmp(file_ids[i], s->id) == 0)
			return false;
	return true;
}

static bool hook_restored(struct daemon *d, const char *id)
{
	if (!booting || !state)
		return false;
	for (size_t i = 0; i < n_file_ids; i++) /* a chain file's segment is not restored */
		if (strcmp(file_ids[i], id) == 0)
			return false;
	return state_find_head(state, id) != NULL;
}

/* Leases (peer.c): whether a segment was created over a peer link, and giving one back to a
 * segment restored with it */
static bool (*lease_query)(const char *id, void *userdata);
static void (*lease_restore)(const char *id, void *userdata);
static void *lease_userdata;

void boot_set_leases(bool (*query)(const char *id, void *userdata),
		     void (*restore)(const char *id, void *userdata), void *userdata)
{
	lease_query = query;
	lease_restore = restore;
	lease_userdata = userdata;
}

static enum state_keep state_keep(const struct segment *s)
{
	/* a peer's part (its head is the link): the peer that made it owns it, and makes it again
	 * when it finds it gone after our restart (chains/remote.c); restored here it would be a
	 * plain listener */
	if (!keep_in_state(s) || s->head_ops == &head_peer_ops)
		return STATE_SKIP;
	return lease_query && lease_query(s->id, lease_userdata) ? STATE_KEEP_LEASED : STATE_KEEP;
}

/* The segments the state file holds (state_serialize()): top segments not from chain files. Their
 * docker-run containers, and their descendants', stay at exit, for the next start to adopt
 * (the engine asks with the top segment of a child). */
static bool hook_persists(struct daemon *d, const struct segment *s)
{
	return state && !s->parent && s->spec && state_keep(s) != STATE_SKIP;
}

/*
 * The state file is serialized on the loop (milliseconds for thousands of segments) and written
 * and fsync()ed on a thread, which can take long on a busy disk: the loop, which the data path
 * shares, never waits for the disk. One write at a time; a change meanwhile writes again after.
 */
struct save_job {
	struct wh_state *st;
	char *buf;
	size_t len;
	int efd;
	int r;
};

static sd_event_source *save_done_src;
static struct save_job *save_running;
static bool save_again;

static void hook_changed(struct daemon *d);

static void *save_thread(void *userdata)
{
	struct save_job *j = userdata;
	uint64_t one = 1;

	j->r = state_write(j->st, j->buf, j->len);
	if (write(j->efd, &one, sizeof(one)) < 0) {
		/* the loop will not learn it finished: nothing else can be done here */
	}
	return NULL;
}

static int on_save_done(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct save_job *j = save_running;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 || !j)
		return 0;
	if (j->r < 0)
		log_error_errno(j->r, "cannot write the state file; segments created since the "
				      "last write will not be restored");
	save_running = NULL;
	free(j->buf);
	free(j);
	if (save_again) {
		save_again = false;
		hook_changed(daemon_);
	}
	return 0;
}

/* The save thread's "done" eventfd. Made at start, not at the first save, so the daemon's
 * descriptors do not change once it runs (the fault tests compare counts). */
static int save_done_setup(void)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (efd < 0 ||
	    sd_event_add_io(daemon_->event, &save_done_src, efd, EPOLLIN, on_save_done, NULL) < 0) {
		safe_close(efd);
		log_error("cannot write the state file: no eventfd");
		return -EIO;
	}
	(void)sd_event_source_set_io_fd_own(save_done_src, 1);
	return 0;
}

static int on_save(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct save_job *j;
	pthread_t t;
	pthread_attr_t attr;
	int r;

	if (stopping || booting)
		return 0;
	if (save_running) {
		save_again = true;
		return 0;
	}
	if (!save_done_src && save_done_setup() < 0)
		return 0;
	j = calloc(1, sizeof(*j));
	if (!j) {
		log_error("cannot write the state file: out of memory");
		return 0;
	}
	*j = (struct save_job){ .st = state, .efd = sd_event_source_get_io_fd(save_done_src) };
	counters_saved = state_counters_sum(daemon_);
	r = state_serialize(daemon_, state_keep, &j->buf, &j->len);
	if (r >= 0) {
		r = -pthread_attr_init(&attr);
		if (r >= 0) {
			(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			r = -pthread_create(&t, &attr, save_thread, j);
			(void)pthread_attr_destroy(&attr);
		}
	}
	if (r < 0) {
		log_error_errno(r, "cannot write the state file");
		free(j->buf);
		free(j);
		return 0;
	}
	save_running = j;
	return 0;
}

static void hook_changed(struct daemon *d)
{
	int r;

	if (stopping || booting || !state)
		return;
	if (save_src) {
		int on = SD_EVENT_OFF;

		(void)sd_event_source_get_enabled(save_src, &on);
		if (on != SD_EVENT_OFF)
			return; /* a save is already due */
		(void)sd_event_source_set_time_relative(save_src, SAVE_DELAY_USEC);
		(void)sd_event_source_set_enabled(save_src, SD_EVENT_ONESHOT);
		return;
	}
	r = sd_event_add_time_relative(d->event, &save_src, CLOCK_MONOTONIC, SAVE_DELAY_USEC,
				       50 * 1000, on_save, NULL);
	if (r < 0)
		log_warning_errno(r, "cannot schedule a write of the state file, ignoring");
	else
		(void)sd_event_source_set_enabled(save_src, SD_EVENT_ONESHOT);
}

static const struct daemon_hooks hooks = {
	.inherited_fd = hook_inherited_fd,
	.stored_listener = hook_stored_listener,
	.listener_up = hook_listener_up,
	.listener_down = hook_listener_down,
	.restore_port = hook_restore_port,
	.restore_child_id = hook_restore_child_id,
	.restore_triggered = hook_restore_triggered,
	.restored = hook_restored,
	.persists = hook_persists,
	.changed = hook_changed,
};

/* ---- start -------------------------------------------------------------------------------- */

static int on_status(sd_event_source *src, uint64_t usec, void *userdata)
{
	sysd_notify_status(daemon_);
	/* counters move without a segment changing: save them now and then, not on each byte */
	counters_check_usec += STATUS_EVERY_USEC;
	if (counters_check_usec >= COUNTERS_SAVE_USEC) {
		counters_check_usec = 0;
		if (!booting && state_counters_sum(daemon_) != counters_saved)
			hook_changed(daemon_);
	}
	(void)sd_event_source_set_time_relative(src, STATUS_EVERY_USEC);
	return 0;
}

static void boot_done(void)
{
	unsigned n = 0;

	booting = false;
	if (state) {
		unsigned back = state_restore_counters(state, daemon_);

		if (back)
			log_info("counters of %u segment%s restored", back, back == 1 ? "" : "s");
	}
	state_forget_restore(state);
	sysd_drop_unused_stored();
	/* the restore may have moved a port or dropped what could not be created */
	hook_changed(daemon_);
	for (struct segment *s = daemon_->segments; s; s = s->next)
		n++;
	if (failed)
		log_warning("ready: %u segment%s up, %u failed at start (see above)", n,
			    n == 1 ? "" : "s", failed);
	else
		log_info("ready: %u segment%s up", n, n == 1 ? "" : "s");
	sysd_notify_ready(daemon_, failed);
}

static void boot_finish_one(void)
{
	if (--pending > 0)
		return;
	boot_done();
}

struct boot_create {
	char *what;  /* "chain file /etc/...", "restored segment 'web'" */
	bool leased; /* restored with a lease (created over a peer link) */
};

static void on_created(struct segment *s, int r, char *error, void *userdata)
{
	_cleanup_free_ char *err = error;
	struct boot_create *bc = userdata;

	if (r < 0) {
		log_error("%s: %s", bc->what, err ?: strerror(-r));
		failed++;
	} else if (bc->leased && lease_restore)
		lease_restore(s->id, lease_userdata);
	free(bc->what);
	free(bc);
	boot_finish_one();
}

/* Creates the top segment @id from @words; @what names it in messages. */
static void create_one(struct daemon *d, const char *id, char **words, const char *what,
		       const struct chainfile *f, bool leased)
{
	_cleanup_(spec_freep) struct spec *sp = NULL;
	_cleanup_free_ char *err = NULL;
	struct boot_create *bc;
	struct segment *s;
	int r;

	r = spec_parse(words, &sp, &err);
	if (r >= 0 && sp->id && strcmp(sp->id, id) != 0) {
		(void)errmsg_set(&err, "'id %s' differs from the file's name '%s'", sp->id, id);
		r = -EINVAL;
	}
	if (r >= 0)
		r = chain_check_supported(sp->top, &err);
	if (r < 0) {
		unsigned line = f ? chainfile_line_of(f, err) : 0;

		if (line)
			log_error("%s:%u: %s; skipping it", f->path, line, err ?: strerror(-r));
		else
			log_error("%s: %s; skipping it", what, err ?: strerror(-r));
		failed++;
		return;
	}
	bc = calloc(1, sizeof(*bc));
	if (!bc || !(bc->what = strdup(what))) {
		free(bc);
		log_error("%s: out of memory", what);
		failed++;
		return;
	}
	bc->leased = leased;
	pending++;
	r = segment_create(d, id, sp, sp->top, NULL, NULL, on_created, bc, &s, &err);
	if (r == 1) {
		TAKE_PTR(sp);
		return;
	}
	if (r >= 0)
		TAKE_PTR(sp);
	on_created(r >= 0 ? s : NULL, r < 0 ? r : 0, TAKE_PTR(err), bc);
}

int boot_start(struct daemon *d, struct wh_state *st, const char *chains_dir)
{
	struct chainfile *files = NULL;
	const struct state_entry *entries = NULL;
	size_t n_files = 0, n_entries = 0;
	int r;

	daemon_ = d;
	state = st;
	d->hooks = &hooks;
	booting = true;
	pending = 1; /* held until everything below is started */
	if (state)
		(void)save_done_setup(); /* logged; saving then fails later, loudly */
	if (chains_dir) {
		unsigned skipped = 0;

		r = chainfiles_load(chains_dir, &files, &n_files, &skipped);
		if (r < 0)
			return r;
		failed += skipped;
	}
	r = state_load(st, &entries, &n_entries);
	if (r < 0) {
		chainfiles_free(files, n_files);
		return r;
	}
	for (size_t i = 0; i < n_files; i++) {
		_cleanup_free_ char *what = NULL;

		if (strv_push_dup(&file_ids, &n_file_ids, files[i].name) < 0 ||
		    asprintf(&what, "chain file %s", files[i].path) < 0) {
			what = NULL;
			r = -ENOMEM;
			break;
		}
		create_one(d, files[i].name, files[i].words, what, &files[i], false);
	}
	for (size_t i = 0; r >= 0 && i < n_entries; i++) {
		_cleanup_free_ char *what = NULL;

		if (segment_find(d, entries[i].id) ||
		    !keep_in_state(&(struct segment){ .id = entries[i].id })) {
			log_warning("state file: segment '%s' is defined by a chain file now; "
				    "not restoring the one created at run time",
				    entries[i].id);
			continue;
		}
		if (asprintf(&what, "restoring segment '%s'", entries[i].id) < 0) {
			what = NULL;
			r = -ENOMEM;
			break;
		}
		create_one(d, entries[i].id, entries[i].words, what, NULL, entries[i].leased);
	}
	chainfiles_free(files, n_files);
	if (sd_event_add_time_relative(d->event, &status_src, CLOCK_MONOTONIC, STATUS_EVERY_USEC,
				       1000 * 1000ULL, on_status, NULL) >= 0)
		(void)sd_event_source_set_enabled(status_src, SD_EVENT_ON);
	boot_finish_one();
	return r < 0 ? r : 0;
}

/* The last save, at stop, on the loop (nothing else runs now): the counters since the last one
 * would be lost otherwise. A save still running on its thread is waited for (bounded), as both
 * write the same temporary file. */
static void save_final(void)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (!state || booting || !daemon_)
		return;
	if (save_running) {
		struct pollfd p = { .fd = sd_event_source_get_io_fd(save_done_src),
				    .events = POLLIN };

		if (poll(&p, 1, 5000) <= 0) {
			log_warning("a state file write is still running at stop; the last "
				    "counters are not saved");
			return;
		}
		(void)on_save_done(save_done_src, p.fd, POLLIN, NULL);
	}
	r = state_serialize(daemon_, state_keep, &buf, &len);
	if (r >= 0)
		r = state_write(state, buf, len);
	if (r < 0)
		log_warning_errno(r, "cannot save the counters at stop, ignoring");
}

void boot_stopping(void)
{
	if (!stopping)
		save_final(); /* once: a second call comes after the segments are gone */
	stopping = true;
	save_src = sd_event_source_disable_unref(save_src);
	status_src = sd_event_source_disable_unref(status_src);
}

void boot_free(void)
{
	/* a write still running finishes on its own; its job is leaked at exit, on purpose: the
	 * thread may still use it */
	save_done_src = sd_event_source_disable_unref(save_done_src);
	save_src = sd_event_source_disable_unref(save_src);
	status_src = sd_event_source_disable_unref(status_src);
	file_ids = strv_free(file_ids);
	n_file_ids = 0;
	if (daemon_)
		daemon_->hooks = NULL;
}
