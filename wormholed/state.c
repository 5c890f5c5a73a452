/* SPDX-License-Identifier: MIT */
/*
 * state.c - the state directory: lock, daemon id, and the segments file (see state.h)
 *
 * The lock is a flock() on DIR/lock, held through an fd that lives as long as the daemon: the
 * kernel drops it when the process ends however it ends, so a lock that is free proves its
 * owner is gone. segments.json is one JSON object:
 *   {"version":1,"segments":[{"id":"web","words":["url",":80","tail","url",":8080"],
 *     "chain":[{"id":"web","port":80,"triggered":false}, ...]}]}
 * and a "counters" array, one object per registered segment (chain-file ones too):
 *   {"id":"web","conns":12,"in":3400,"out":560,"trigger_starts":1,...,"failures":{"refused":0,..}}
 * added to the same segment's live counters once the restore is done (state_restore_counters()).
 * The file is written to a temporary file, fsync()ed and renamed over the old one, so a crash leaves either
 * the old or the new file, never half of one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "errmsg.h"
#include "log.h"
#include "segment.h"
#include "spec.h"
#include "state.h"
#include "strmap.h"
#include "strv.h"

#define STATE_FILE     "segments.json"
#define STATE_FILE_TMP "segments.json.tmp"
#define STATE_MAX      (64u << 20)

/* What a segment had counted, by id (see state_restore_counters()) */
struct saved_counters {
	char *id;
	uint64_t conns, in, out;
	struct segment_stats stats;
};

struct wh_state {
	char *dir;
	int dirfd;
	int lockfd;
	char id[17];
	struct state_entry *entries;
	size_t n_entries;
	struct saved_counters *counters;
	size_t n_counters;
	bool restoring;
};

char *state_default_dir(const char *ctl_path, bool ctl_default)
{
	const char *sd = getenv("STATE_DIRECTORY");
	char *ret, *p;

	if (ctl_default) {
		/* StateDirectory= may list several, separated by ':'; ours is the first */
		if (sd && sd[0] == '/')
			return strndup(sd, strcspn(sd, ":"));
		return strdup("/var/lib/wormhole");
	}
	if (asprintf(&ret, "/var/lib/wormhole/instances/%s", ctl_path + strspn(ctl_path, "/")) < 0)
		return NULL;
	for (p = ret + strlen("/var/lib/wormhole/instances/"); *p; p++)
		if (*p == '/')
			*p = '-';
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			   (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			*p = '_';
	return ret;
}

static int mkdir_parents(const char *dir)
{
	_cleanup_free_ char *p = strdup(dir);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int read_small(int dirfd, const char *name, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

/* Writes @len bytes of @data to @name through a temporary file and rename(). */
static int write_atomic(int dirfd, const char *name, const char *tmp, const void *data, size_t len)
{
	_cleanup_close_ int fd = -EBADF;
	const char *p = data;

	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			int r = -errno;

			(void)unlinkat(dirfd, tmp, 0);
			return r;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
		int r = -errno;

		(void)unlinkat(dirfd, tmp, 0);
		return r;
	}
	(void)fsync(dirfd);
	return 0;
}

static bool id_valid(const char *s)
{
	if (strlen(s) != 16)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static int daemon_id_load(struct wh_state *st)
{
	char buf[64];
	uint8_t b[8];
	int r;

	r = read_small(st->dirfd, "daemon-id", buf, sizeof(buf));
	if (r >= 0) {
		buf[strcspn(buf, "\n")] = '\0';
		if (id_valid(buf)) {
			memcpy(st->id, buf, 17);
			return 0;
		}
		log_warning("'%s/daemon-id' is not 16 hex digits, making a new id", st->dir);
	} else if (r != -ENOENT) {
		return r;
	}
	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	for (size_t i = 0; i < sizeof(b); i++)
		(void)snprintf(st->id + 2 * i, 3, "%02x", b[i]);
	(void)snprintf(buf, sizeof(buf), "%s\n", st->id);
	return write_atomic(st->dirfd, "daemon-id", "daemon-id.tmp", buf, strlen(buf));
}

int state_open(const char *dir, struct wh_state **ret, char **ret_error)
{
	struct wh_state *st;
	char pid[32];
	int r;

	*ret_error = NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->dirfd = st->lockfd = -EBADF;
	st->dir = strdup(dir);
	if (!st->dir) {
		r = -ENOMEM;
		goto fail;
	}
	r = mkdir_parents(dir);
	if (r < 0) {
		errmsg_set_errno(ret_error, r,
				 "state directory '%s': cannot create it (another: --state DIR)",
				 dir);
		goto fail;
	}
	st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		r = errmsg_set_errno(ret_error, -errno, "state directory '%s'", dir);
		goto fail;
	}
	st->lockfd = openat(st->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (st->lockfd < 0) {
		r = errmsg_set_errno(ret_error, -errno, "state directory '%s': lock file", dir);
		goto fail;
	}
	if (flock(st->lockfd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		if (r == -EWOULDBLOCK) {
			ssize_t n = pread(st->lockfd, pid, sizeof(pid) - 1, 0);

			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			(void)errmsg_set(
				ret_error,
				"another wormholed%s%s%s runs with the state directory '%s' "
				"(the same daemon identity); refusing to run twice",
				pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", dir);
			r = -EBUSY;
		} else {
			errmsg_set_errno(ret_error, r, "state directory '%s': lock", dir);
		}
		goto fail;
	}
	(void)snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(st->lockfd, 0) < 0 || pwrite(st->lockfd, pid, strlen(pid), 0) < 0)
		log_debug_errno(-errno, "cannot write our pid into the lock file, ignoring");
	r = daemon_id_load(st);
	if (r < 0) {
		errmsg_set_errno(ret_error, r, "state directory '%s': daemon id", dir);
		goto fail;
	}
	*ret = st;
	return 0;
fail:
	state_free(st);
	return r;
}

static void entries_free(struct wh_state *st)
{
	for (size_t i = 0; i < st->n_entries; i++) {
		struct state_entry *e = &st->entries[i];

		free(e->id);
		strv_free(e->words);
		for (size_t k = 0; k < e->n_heads; k++)
			free(e->heads[k].id);
		free(e->heads);
	}
	free(st->entries);
	st->entries = NULL;
	st->n_entries = 0;
	for (size_t i = 0; i < st->n_counters; i++)
		free(st->counters[i].id);
	free(st->counters);
	st->counters = NULL;
	st->n_counters = 0;
}

struct wh_state *state_free(struct wh_state *st)
{
	if (!st)
		return NULL;
	entries_free(st);
	safe_close(st->lockfd); /* releases the lock */
	safe_close(st->dirfd);
	free(st->dir);
	free(st);
	return NULL;
}

const char *state_daemon_id(const struct wh_state *st)
{
	return st->id;
}

static void yajl_tree_freep(yajl_val *v)
{
	if (*v)
		yajl_tree_free(*v);
}

static yajl_val obj_get(yajl_val o, const char *key)
{
	if (!YAJL_IS_OBJECT(o))
		return NULL;
	for (size_t i = 0; i < o->u.object.len; i++)
		if (strcmp(o->u.object.keys[i], key) == 0)
			return o->u.object.values[i];
	return NULL;
}

/* One entry from its JSON object; -EINVAL when anything is not as written. */
static int entry_parse(yajl_val o, struct state_entry *e)
{
	yajl_val id = obj_get(o, "id"), words = obj_get(o, "words"), chain = obj_get(o, "chain"),
		 leased = obj_get(o, "leased");
	size_t nw = 0;
	int r;

	if (!YAJL_IS_STRING(id) || !spec_id_valid(id->u.string) || !YAJL_IS_ARRAY(words) ||
	    words->u.array.len == 0 || !YAJL_IS_ARRAY(chain) ||
	    (leased && !YAJL_IS_TRUE(leased) && !YAJL_IS_FALSE(leased)))
		return -EINVAL;
	e->leased = leased && YAJL_IS_TRUE(leased);
	e->id = strdup(id->u.string);
	e->words = calloc(1, sizeof(char *));
	if (!e->id || !e->words)
		return -ENOMEM;
	for (size_t i = 0; i < words->u.array.len; i++) {
		yajl_val w = words->u.array.values[i];

		if (!YAJL_IS_STRING(w))
			return -EINVAL;
		r = strv_push_dup(&e->words, &nw, w->u.string);
		if (r < 0)
			return r;
	}
	e->heads = calloc(chain->u.array.len + 1, sizeof(*e->heads));
	if (!e->heads)
		return -ENOMEM;
	for (size_t i = 0; i < chain->u.array.len; i++) {
		yajl_val h = chain->u.array.values[i], hid = obj_get(h, "id"),
			 port = obj_get(h, "port"), trig = obj_get(h, "triggered");

		if (!YAJL_IS_STRING(hid) || !spec_id_valid(hid->u.string) ||
		    !YAJL_IS_INTEGER(port) || YAJL_GET_INTEGER(port) < 0 ||
		    YAJL_GET_INTEGER(port) > 65535 ||
		    (trig && !YAJL_IS_TRUE(trig) && !YAJL_IS_FALSE(trig)))
			return -EINVAL;
		e->heads[i].id = strdup(hid->u.string);
		if (!e->heads[i].id)
			return -ENOMEM;
		e->heads[i].port = (uint16_t)YAJL_GET_INTEGER(port);
		e->heads[i].triggered = trig && YAJL_IS_TRUE(trig);
		e->n_heads++;
	}
	return 0;
}

/* A counter that is absent reads as 0; one that is there must be a non-negative integer. */
static int get_count(yajl_val o, const char *key, uint64_t *ret)
{
	yajl_val v = obj_get(o, key);

	if (!v) {
		*ret = 0;
		return 0;
	}
	if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0)
		return -EINVAL;
	*ret = (uint64_t)YAJL_GET_INTEGER(v);
	return 0;
}

static int counters_parse(yajl_val o, struct saved_counters *c)
{
	yajl_val id = obj_get(o, "id"), sum = obj_get(o, "trigger_sum"),
		 buckets = obj_get(o, "trigger_buckets"), fails = obj_get(o, "failures");
	struct segment_stats *x = &c->stats;
	int r = 0;

	if (!YAJL_IS_STRING(id) || !spec_id_valid(id->u.string))
		return -EINVAL;
	r |= get_count(o, "conns", &c->conns);
	r |= get_count(o, "in", &c->in);
	r |= get_count(o, "out", &c->out);
	r |= get_count(o, "trigger_starts", &x->trigger_starts);
	r |= get_count(o, "trigger_failures", &x->trigger_failures);
	r |= get_count(o, "trigger_count", &x->trigger_count);
	r |= get_count(o, "container_starts", &x->container_starts);
	r |= get_count(o, "container_stops", &x->container_stops);
	r |= get_count(o, "idle_stops", &x->idle_stops);
	if (r < 0)
		return -EINVAL;
	if (sum && YAJL_IS_NUMBER(sum) && YAJL_GET_DOUBLE(sum) >= 0)
		x->trigger_sum = YAJL_GET_DOUBLE(sum);
	/* the buckets only when their bounds are the ones we have; else the count and sum stay */
	if (YAJL_IS_ARRAY(buckets) && buckets->u.array.len == SEGMENT_TRIGGER_BUCKETS)
		for (size_t i = 0; i < SEGMENT_TRIGGER_BUCKETS; i++) {
			yajl_val b = buckets->u.array.values[i];

			if (YAJL_IS_INTEGER(b) && YAJL_GET_INTEGER(b) >= 0)
				x->trigger_bucket[i] = (uint64_t)YAJL_GET_INTEGER(b);
		}
	for (int f = 0; YAJL_IS_OBJECT(fails) && f < _SEGMENT_FAIL_MAX; f++)
		if (get_count(fails, segment_fail_name(f), &x->connect_failures[f]) < 0)
			return -EINVAL;
	c->id = strdup(id->u.string);
	return c->id ? 0 : -ENOMEM;
}

/* Counters are an addition to the file: malformed ones are dropped, the segments still load. */
static int parse_counters(struct wh_state *st, yajl_val cnt)
{
	if (!cnt)
		return 0;
	if (!YAJL_IS_ARRAY(cnt)) {
		log_warning("state file: 'counters' is not an array, ignoring it");
		return 0;
	}
	st->counters = calloc(cnt->u.array.len + 1, sizeof(*st->counters));
	if (!st->counters)
		return -ENOMEM;
	for (size_t i = 0; i < cnt->u.array.len; i++) {
		struct saved_counters *c = &st->counters[st->n_counters];
		int r = counters_parse(cnt->u.array.values[i], c);

		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			free(c->id);
			*c = (struct saved_counters){ 0 };
			log_warning("state file: counters %zu are malformed, ignoring them", i + 1);
			continue;
		}
		st->n_counters++;
	}
	return 0;
}

static int parse_state(struct wh_state *st, const char *text, char *err, size_t errlen)
{
	_cleanup_(yajl_tree_freep) yajl_val root = yajl_tree_parse(text, err, errlen);
	yajl_val version, segs;
	int r;

	if (!root)
		return -EINVAL;
	version = obj_get(root, "version");
	segs = obj_get(root, "segments");
	if (!YAJL_IS_INTEGER(version) || YAJL_GET_INTEGER(version) != 1 || !YAJL_IS_ARRAY(segs)) {
		(void)snprintf(err, errlen, "not a version 1 state file");
		return -EINVAL;
	}
	st->entries = calloc(segs->u.array.len + 1, sizeof(*st->entries));
	if (!st->entries)
		return -ENOMEM;
	for (size_t i = 0; i < segs->u.array.len; i++) {
		r = entry_parse(segs->u.array.values[i], &st->entries[st->n_entries++]);
		if (r < 0) {
			(void)snprintf(err, errlen, "segment %zu is malformed", i + 1);
			return r;
		}
	}
	return parse_counters(st, obj_get(root, "counters"));
}

int state_load(struct wh_state *st, const struct state_entry **ret, size_t *ret_n)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -EBADF;
	char err[256] = "";
	struct stat sb;
	size_t len = 0;
	int r;

	entries_free(st);
	*ret = NULL;
	*ret_n = 0;
	fd = openat(st->dirfd, STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warning_errno(-errno, "cannot read '%s/%s', starting without it",
					  st->dir, STATE_FILE);
		return 0;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > STATE_MAX) {
		(void)snprintf(err, sizeof(err), "not a regular file of at most %u bytes",
			       STATE_MAX);
		r = -EINVAL;
		goto corrupt;
	}
	text = malloc((size_t)sb.st_size + 1);
	if (!text)
		return -ENOMEM;
	while (len < (size_t)sb.st_size) {
		ssize_t n = read(fd, text + len, (size_t)sb.st_size - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	text[len] = '\0';
	r = parse_state(st, text, err, sizeof(err));
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		goto corrupt;
	st->restoring = true;
	*ret = st->entries;
	*ret_n = st->n_entries;
	return 0;

corrupt : {
	char aside[64];

	entries_free(st);
	(void)snprintf(aside, sizeof(aside), "%s.corrupt-%lld", STATE_FILE, (long long)time(NULL));
	if (renameat(st->dirfd, STATE_FILE, st->dirfd, aside) < 0)
		log_error_errno(-errno,
				"state file '%s/%s' is corrupt (%s) and cannot be moved "
				"aside; starting without it",
				st->dir, STATE_FILE, err[0] ? err : "does not parse");
	else
		log_error("state file '%s/%s' is corrupt (%s): moved aside to '%s', starting "
			  "without it",
			  st->dir, STATE_FILE, err[0] ? strtok(err, "\n") : "does not parse",
			  aside);
	return 0;
}
}

const struct state_head *state_find_head(const struct wh_state *st, const char *id)
{
	if (!st->restoring)
		return NULL;
	for (size_t i = 0; i < st->n_entries; i++)
		for (size_t k = 0; k < st->entries[i].n_heads; k++)
			if (strcmp(st->entries[i].heads[k].id, id) == 0)
				return &st->entries[i].heads[k];
	return NULL;
}

const char *state_child_id(const struct wh_state *st, const char *parent_id)
{
	if (!st->restoring)
		return NULL;
	for (size_t i = 0; i < st->n_entries; i++)
		for (size_t k = 0; k + 1 < st->entries[i].n_heads; k++)
			if (strcmp(st->entries[i].heads[k].id, parent_id) == 0)
				return st->entries[i].heads[k + 1].id;
	return NULL;
}

unsigned state_restore_counters(const struct wh_state *st, struct daemon *d)
{
	unsigned n = 0;

	if (!st->restoring)
		return 0;
	for (size_t i = 0; i < st->n_counters; i++) {
		const struct saved_counters *c = &st->counters[i];
		struct segment *s = segment_find(d, c->id);
		struct segment_stats *x;

		if (!s)
			continue;
		x = &s->stats;
		s->conns_total += c->conns;
		s->bytes_in_closed += c->in;
		s->bytes_out_closed += c->out;
		for (int f = 0; f < _SEGMENT_FAIL_MAX; f++)
			x->connect_failures[f] += c->stats.connect_failures[f];
		x->trigger_starts += c->stats.trigger_starts;
		x->trigger_failures += c->stats.trigger_failures;
		for (size_t b = 0; b < SEGMENT_TRIGGER_BUCKETS; b++)
			x->trigger_bucket[b] += c->stats.trigger_bucket[b];
		x->trigger_count += c->stats.trigger_count;
		x->trigger_sum += c->stats.trigger_sum;
		x->container_starts += c->stats.container_starts;
		x->container_stops += c->stats.container_stops;
		x->idle_stops += c->stats.idle_stops;
		n++;
	}
	return n;
}

uint64_t state_counters_sum(const struct daemon *d)
{
	uint64_t sum = 0;

	for (const struct segment *s = d->segments; s; s = s->next) {
		uint64_t in, out;

		segment_bytes(s, &in, &out);
		sum += s->conns_total + in + out + s->stats.trigger_starts +
		       s->stats.container_starts + s->stats.container_stops;
	}
	return sum;
}

void state_forget_restore(struct wh_state *st)
{
	st->restoring = false;
	entries_free(st);
}

static void yajl_gen_freep(yajl_gen *g)
{
	if (*g)
		yajl_gen_free(*g);
}

static void gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void strmap_freep(struct strmap **m)
{
	*m = strmap_free(*m);
}

static void gen_count(yajl_gen g, const char *key, uint64_t v)
{
	gen_str(g, key);
	yajl_gen_integer(g, (long long)(v > INT64_MAX ? INT64_MAX : v));
}

static void gen_counters(yajl_gen g, const struct segment *s)
{
	const struct segment_stats *x = &s->stats;
	uint64_t in, out;

	segment_bytes(s, &in, &out);
	yajl_gen_map_open(g);
	gen_str(g, "id");
	gen_str(g, s->id);
	gen_count(g, "conns", s->conns_total);
	gen_count(g, "in", in);
	gen_count(g, "out", out);
	gen_count(g, "trigger_starts", x->trigger_starts);
	gen_count(g, "trigger_failures", x->trigger_failures);
	gen_count(g, "trigger_count", x->trigger_count);
	gen_str(g, "trigger_sum");
	yajl_gen_double(g, x->trigger_sum);
	gen_str(g, "trigger_buckets");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < SEGMENT_TRIGGER_BUCKETS; i++)
		yajl_gen_integer(g, (long long)x->trigger_bucket[i]);
	yajl_gen_array_close(g);
	gen_str(g, "failures");
	yajl_gen_map_open(g);
	for (int f = 0; f < _SEGMENT_FAIL_MAX; f++)
		gen_count(g, segment_fail_name(f), x->connect_failures[f]);
	yajl_gen_map_close(g);
	gen_count(g, "container_starts", x->container_starts);
	gen_count(g, "container_stops", x->container_stops);
	gen_count(g, "idle_stops", x->idle_stops);
	yajl_gen_map_close(g);
}

int state_serialize(struct daemon *d, enum state_keep (*keep)(const struct segment *s), char **ret,
		    size_t *ret_len)
{
	_cleanup_(yajl_gen_freep) yajl_gen g = yajl_gen_alloc(NULL);
	_cleanup_(strmap_freep) struct strmap *child = NULL;
	const unsigned char *buf;
	size_t len;
	int r;

	if (!g)
		return -ENOMEM;
	/* each segment has at most one child: one pass maps parents to children */
	r = strmap_new(&child);
	if (r < 0)
		return r;
	for (struct segment *s = d->segments; s; s = s->next)
		if (s->parent) {
			r = strmap_put(child, s->parent->id, s);
			if (r < 0)
				return r;
		}
	yajl_gen_map_open(g);
	gen_str(g, "version");
	yajl_gen_integer(g, 1);
	gen_str(g, "segments");
	yajl_gen_array_open(g);
	for (const struct segment *s = d->segments; s; s = s->next) {
		_cleanup_(strv_freep) char **words = NULL;
		const struct segment *last = s;
		const struct segment_restore *rest;
		enum state_keep k;
		size_t n_rest;

		if (s->parent || !s->spec)
			continue;
		k = keep ? keep(s) : STATE_KEEP;
		if (k == STATE_SKIP)
			continue;
		if (spec_seg_to_words(s->spec->top, &words) < 0)
			return -ENOMEM;
		yajl_gen_map_open(g);
		gen_str(g, "id");
		gen_str(g, s->id);
		if (k == STATE_KEEP_LEASED) {
			gen_str(g, "leased");
			yajl_gen_bool(g, 1);
		}
		gen_str(g, "words");
		yajl_gen_array_open(g);
		for (char **w = words; *w; w++)
			gen_str(g, *w);
		yajl_gen_array_close(g);
		gen_str(g, "chain");
		yajl_gen_array_open(g);
		for (const struct segment *c = s; c; c = strmap_get(child, c->id)) {
			yajl_gen_map_open(g);
			gen_str(g, "id");
			gen_str(g, c->id);
			gen_str(g, "port");
			yajl_gen_integer(g, c->head.proto == URL_PROTO_UNIX || c->head.fd_name
						    ? 0
						    : c->head.port);
			gen_str(g, "triggered");
			yajl_gen_bool(g, segment_saved_triggered(c));
			yajl_gen_map_close(g);
			last = c;
		}
		/* a restore still running the trigger that creates the child: the descendants
		 * as they were, so a stop or a crash now loses none of them */
		rest = segment_restore_rest(last, &n_rest);
		for (size_t i = 0; i < n_rest; i++) {
			yajl_gen_map_open(g);
			gen_str(g, "id");
			gen_str(g, rest[i].id);
			gen_str(g, "port");
			yajl_gen_integer(g, rest[i].port);
			gen_str(g, "triggered");
			yajl_gen_bool(g, rest[i].triggered);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gen_str(g, "counters");
	yajl_gen_array_open(g);
	for (const struct segment *s = d->segments; s; s = s->next)
		if (s->registered)
			gen_counters(g, s);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		return -ENOMEM;
	*ret = malloc(len + 1);
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, buf, len);
	(*ret)[len] = '\0';
	*ret_len = len;
	return 0;
}

int state_write(struct wh_state *st, const char *buf, size_t len)
{
	return write_atomic(st->dirfd, STATE_FILE, STATE_FILE_TMP, buf, len);
}
