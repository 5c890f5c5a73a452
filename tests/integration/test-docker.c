/* SPDX-License-Identifier: MIT */
/*
 * test-docker.c - lib/docker against a real dockerd
 *
 * Which engine: $DOCKER_HOST if set, else the private test engine's socket
 * ($WORMHOLE_DOCKERD_SOCK, default /run/wormhole-test-docker.sock, from tests/lib/dockerd.sh), else /var/run/docker.sock. If none
 * answers /_ping and we are root, the test starts the private engine itself with
 * tests/lib/dockerd.sh (found next to this source file, or under $WORMHOLE_SRCDIR) and stops it
 * again at the end. Without a reachable engine it prints "SKIP: ..." and exits 77. The test image
 * wormhole-test/busybox is built with tests/lib/images.sh when missing (needs the docker CLI).
 * Every container the test makes carries the label wormhole.segment=unit-test-<pid>; they are
 * all removed at the end (and the tests check that failures leave none behind). Containers run
 * with --network none; the only traffic is to 127.0.0.1 inside their own namespaces, and the
 * failed pull goes to a closed port on 127.0.0.1.
 *
 * The local-registry pull test runs only when Debian's docker-registry is installed (and skips
 * itself otherwise): it serves a registry on 127.0.0.1:5000 from a temporary directory, pushes
 * the busybox image there, removes it locally and checks that docker_create_and_start() pulls it
 * back and reports progress.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "docker-args.h"
#include "docker.h"
#include "netns.h"

#define PRIVATE_SOCKET "/run/wormhole-test-docker.sock" /* tests/lib/dockerd.sh's default */
#define IMAGE	       "wormhole-test/busybox:latest"

static sd_event *loop;
static struct docker *dk;
static char label[64]; /* wormhole.segment=unit-test-PID */
static char label_key[] = "wormhole.segment";
static char srcdir[PATH_MAX];
static bool started_dockerd;
static char private_host[PATH_MAX]; /* unix:// + $WORMHOLE_DOCKERD_SOCK or PRIVATE_SOCKET */

struct result {
	bool done;
	int r;
	char *error;
	char *api_version;
	char *id, *name;
	pid_t pid;
	bool running;
	char **ids;
	unsigned n_progress;
};

static void result_done(struct result *res)
{
	free(res->error);
	free(res->api_version);
	free(res->id);
	free(res->name);
	for (char **p = res->ids; p && *p; p++)
		free(*p);
	free(res->ids);
	*res = (struct result){ 0 };
}

static void run_until(const bool *flag, unsigned seconds)
{
	uint64_t deadline = 0, now = 0;

	assert_int_equal(sd_event_now(loop, CLOCK_MONOTONIC, &now), 0);
	deadline = now + (uint64_t)seconds * 1000000;
	while (!*flag) {
		assert_true(sd_event_run(loop, 100000) >= 0);
		assert_int_equal(sd_event_now(loop, CLOCK_MONOTONIC, &now), 0);
		if (now > deadline)
			fail_msg("timed out after %u s", seconds);
	}
}

static void on_done(struct docker *d, int r, const char *error, void *userdata)
{
	struct result *res = userdata;

	res->r = r;
	res->error = error ? strdup(error) : NULL;
	res->done = true;
}

static void on_ping(struct docker *d, int r, const char *error, const char *v, void *userdata)
{
	struct result *res = userdata;

	res->r = r;
	res->error = error ? strdup(error) : NULL;
	res->api_version = v ? strdup(v) : NULL;
	res->done = true;
}

static void on_info(struct docker *d, int r, const char *error,
		    const struct docker_container_info *info, void *userdata)
{
	struct result *res = userdata;

	res->r = r;
	res->error = error ? strdup(error) : NULL;
	if (r >= 0) {
		assert_non_null(info);
		res->id = strdup(info->id);
		res->name = strdup(info->name);
		res->pid = info->pid;
		res->running = info->running;
		assert_non_null(info->labels);
	} else {
		assert_null(info);
		assert_non_null(error);
	}
	res->done = true;
}

static void on_ids(struct docker *d, int r, const char *error, char *const *ids, void *userdata)
{
	struct result *res = userdata;
	size_t n = 0;

	res->r = r;
	res->error = error ? strdup(error) : NULL;
	if (r >= 0) {
		while (ids[n])
			n++;
		res->ids = calloc(n + 1, sizeof(char *));
		for (size_t i = 0; i < n; i++)
			res->ids[i] = strdup(ids[i]);
	}
	res->done = true;
}

static void on_progress(struct docker *d, const char *text, void *userdata)
{
	struct result *res = userdata;

	assert_non_null(text);
	fprintf(stderr, "# progress: %s\n", text);
	res->n_progress++;
}

/* Runs `docker run`-style words to completion. */
static void create(const char *words, struct result *res)
{
	struct docker_run_args a = { 0 };
	_cleanup_free_ char *err = NULL;
	const char *labels[] = { label, NULL };

	assert_int_equal(docker_run_args_parse(words, &a, &err), 0);
	assert_int_equal(docker_create_and_start(dk, &a, labels, on_progress, on_info, res, NULL),
			 0);
	docker_run_args_done(&a);
	run_until(&res->done, 60);
}

static void inspect(const char *ref, struct result *res)
{
	assert_int_equal(docker_inspect(dk, ref, on_info, res, NULL), 0);
	run_until(&res->done, 30);
}

static void remove_container(const char *id)
{
	struct result res = { 0 };

	assert_int_equal(docker_remove(dk, id, on_done, &res, NULL), 0);
	run_until(&res.done, 30);
	assert_int_equal(res.r, 0);
	result_done(&res);
}

static size_t count_labelled(void)
{
	struct result res = { 0 };
	size_t n = 0;

	assert_int_equal(docker_list_by_label(dk, label, on_ids, &res, NULL), 0);
	run_until(&res.done, 30);
	assert_int_equal(res.r, 0);
	while (res.ids[n])
		n++;
	result_done(&res);
	return n;
}

/* connect to 127.0.0.1:port inside the container's namespace and echo a line through it */
static void echo_in_container(pid_t pid, uint16_t port)
{
	_cleanup_close_ int nsfd = -EBADF, fd = -EBADF;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 5 };
	char buf[64] = { 0 };
	ssize_t n;
	int tries;

	nsfd = netns_open_pid(pid);
	assert_true(nsfd >= 0);
	assert_false(netns_same(nsfd, -1));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* nc may not listen yet right after start: retry on ECONNREFUSED, bounded */
	for (tries = 0; tries < 100; tries++) {
		fd = netns_socket(nsfd, AF_INET, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			break;
		assert_int_equal(errno, ECONNREFUSED);
		fd = safe_close(fd);
		usleep(50000);
	}
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(write(fd, "wormhole\n", 9), 9);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_int_equal(n, 9);
	assert_string_equal(buf, "wormhole\n");
}

static void test_ping(void **state)
{
	struct result res = { 0 };

	assert_int_equal(docker_ping(dk, on_ping, &res, NULL), 0);
	assert_false(res.done); /* never from inside the call */
	run_until(&res.done, 10);
	assert_int_equal(res.r, 0);
	assert_non_null(res.api_version);
	/* capped at 1.41; 20.10 says exactly that */
	assert_true(strncmp(res.api_version, "1.", 2) == 0 && atoi(res.api_version + 2) <= 41);
	result_done(&res);
}

static void test_unreachable(void **state)
{
	struct docker *d = NULL;
	struct result res = { 0 };
	char path[] = "/tmp/wormhole-test-nosock-XXXXXX";
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	/* no socket file: -ENOENT, and a message naming the socket */
	assert_int_equal(docker_new(loop, "unix:///nonexistent/docker.sock", &d), 0);
	assert_int_equal(docker_ping(d, on_ping, &res, NULL), 0);
	run_until(&res.done, 10);
	assert_int_equal(res.r, -ENOENT);
	assert_non_null(strstr(res.error, "cannot connect to the Docker daemon at "
					  "'/nonexistent/docker.sock'"));
	result_done(&res);
	/* an inspect waiting for the version negotiation fails the same way */
	assert_int_equal(docker_inspect(d, "x", on_info, &res, NULL), 0);
	run_until(&res.done, 10);
	assert_int_equal(res.r, -ENOENT);
	result_done(&res);
	d = docker_free(d);

	/* a "dockerd" that accepts nothing and never answers: the timeout, not a hang */
	assert_non_null(mkdtemp(path));
	(void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/hung.sock", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(docker_new(loop, sun.sun_path, &d), 0);
	docker_set_timeout(d, 300000);
	assert_int_equal(docker_ping(d, on_ping, &res, NULL), 0);
	run_until(&res.done, 10);
	assert_int_equal(res.r, -ETIMEDOUT);
	assert_non_null(strstr(res.error, "did not answer"));
	result_done(&res);
	d = docker_free(d);
	(void)unlink(sun.sun_path);
	(void)rmdir(path);

	/* only unix sockets */
	assert_int_equal(docker_new(loop, "tcp://127.0.0.1:2375", &d), -EPROTONOSUPPORT);
}

static void test_no_such_container(void **state)
{
	struct result res = { 0 };

	inspect("wormhole-nosuch-container", &res);
	assert_int_equal(res.r, -ENOENT);
	assert_string_equal(res.error, "No such container: wormhole-nosuch-container");
	result_done(&res);
}

static void test_echo_container(void **state)
{
	struct result res = { 0 }, by = { 0 };
	char words[256], prefix[13];
	_cleanup_free_ char *id = NULL, *name = NULL;

	(void)snprintf(words, sizeof(words),
		       "--name wh-unit-echo-%d --network none --init -l wormhole.test=yes " IMAGE
		       " nc -ll -p 3306 -e /bin/cat",
		       (int)getpid());
	create(words, &res);
	assert_int_equal(res.r, 0);
	assert_true(res.pid > 0);
	assert_true(res.running);
	assert_int_equal(strlen(res.id), 64);
	id = strdup(res.id);
	name = strdup(res.name);
	assert_true(strncmp(name, "wh-unit-echo-", 13) == 0);
	echo_in_container(res.pid, 3306);

	/* by name, by full id, by unique prefix: the same container */
	inspect(name, &by);
	assert_int_equal(by.r, 0);
	assert_string_equal(by.id, id);
	assert_int_equal(by.pid, res.pid);
	result_done(&by);
	inspect(id, &by);
	assert_int_equal(by.r, 0);
	assert_string_equal(by.name, name);
	result_done(&by);
	(void)snprintf(prefix, sizeof(prefix), "%.12s", id);
	inspect(prefix, &by);
	assert_int_equal(by.r, 0);
	assert_string_equal(by.id, id);
	result_done(&by);
	result_done(&res);

	assert_int_equal(count_labelled(), 1);
	remove_container(id);
	remove_container(id); /* already gone: still fine */
	inspect(id, &by);
	assert_int_equal(by.r, -ENOENT);
	result_done(&by);
	assert_int_equal(count_labelled(), 0);
}

static void test_ambiguous_prefix(void **state)
{
	struct result res = { 0 };
	char *ids[17] = { 0 };
	int a = -1, b = -1;
	char prefix[2] = { 0 }, want[64];

	/* 17 ids cannot all differ in their first hex digit; usually 3 to 6 suffice */
	for (int i = 0; i < 17 && a < 0; i++) {
		create("--network none --init " IMAGE " sleep 600", &res);
		assert_int_equal(res.r, 0);
		ids[i] = strdup(res.id);
		result_done(&res);
		for (int j = 0; j < i; j++)
			if (ids[j][0] == ids[i][0]) {
				a = j;
				b = i;
			}
	}
	assert_true(a >= 0);
	prefix[0] = ids[a][0];
	inspect(prefix, &res);
	assert_int_equal(res.r, -EINVAL);
	fprintf(stderr, "# %s\n", res.error);
	(void)snprintf(want, sizeof(want), "ambiguous container prefix '%s': matches ", prefix);
	assert_true(strncmp(res.error, want, strlen(want)) == 0);
	(void)snprintf(want, sizeof(want), "%.12s", ids[a]);
	assert_non_null(strstr(res.error, want));
	(void)snprintf(want, sizeof(want), "%.12s", ids[b]);
	assert_non_null(strstr(res.error, want));
	result_done(&res);
	for (int i = 0; i < 17; i++)
		if (ids[i]) {
			remove_container(ids[i]);
			free(ids[i]);
		}
	assert_int_equal(count_labelled(), 0);
}

static void test_missing_image(void **state)
{
	struct result res = { 0 };

	/* not here, and its registry (a closed port on loopback) cannot deliver it */
	create("--network none 127.0.0.1:5999/wormhole-test/nosuch:1", &res);
	fprintf(stderr, "# %s\n", res.error ? res.error : "(none)");
	assert_true(res.r < 0);
	assert_non_null(strstr(res.error, "image '127.0.0.1:5999/wormhole-test/nosuch:1' is not "
					  "present and pulling it failed: "));
	result_done(&res);
	assert_int_equal(count_labelled(), 0);
}

static void test_bad_command(void **state)
{
	struct result res = { 0 };

	/* runc cannot exec it: start fails with Docker's own message */
	create("--network none " IMAGE " /bin/nonexistent", &res);
	fprintf(stderr, "# %s\n", res.error ? res.error : "(none)");
	assert_int_equal(res.r, -EINVAL);
	assert_non_null(strstr(res.error, "exec: \"/bin/nonexistent\": stat /bin/nonexistent: no "
					  "such file or directory"));
	result_done(&res);
	/* created, failed to start, removed again */
	assert_int_equal(count_labelled(), 0);

	/* starts, but exits at once: -ESRCH and removed, unless inspect was quicker than exit */
	create("--network none " IMAGE " false", &res);
	fprintf(stderr, "# %s\n", res.error ? res.error : "(none)");
	if (res.r == 0)
		remove_container(res.id);
	else {
		assert_int_equal(res.r, -ESRCH);
		assert_non_null(strstr(res.error, "exited right after start (exit code 1)"));
	}
	result_done(&res);
	assert_int_equal(count_labelled(), 0);
}

static void test_cancel_create(void **state)
{
	struct docker_run_args a = { 0 };
	_cleanup_free_ char *err = NULL;
	const char *labels[] = { label, NULL };
	struct docker_op *op = NULL;
	struct result res = { 0 };

	/* cancelled at each point of its life, a create never leaves a container behind */
	for (int spins = 0; spins < 6; spins++) {
		assert_int_equal(docker_run_args_parse("--network none --init " IMAGE " sleep 600",
						       &a, &err),
				 0);
		assert_int_equal(docker_create_and_start(dk, &a, labels, NULL, on_info, &res, &op),
				 0);
		docker_run_args_done(&a);
		for (int i = 0; i < spins * 5; i++)
			(void)sd_event_run(loop, 20000);
		fprintf(stderr, "# spin %d: %s\n", spins,
			res.done ? "done before cancel" : "cancel");
		if (!res.done)
			docker_op_cancel(op);
		for (int i = 0; i < 300 && docker_pending(dk) > 0; i++)
			(void)sd_event_run(loop, 50000);
		assert_int_equal(docker_pending(dk), 0);
		if (res.done && res.r == 0)
			remove_container(res.id);
		result_done(&res);
		assert_int_equal(count_labelled(), 0);
	}
}

struct events_seen {
	const char *id;
	pid_t old_pid, new_pid;
	bool died, started;
};

static void on_event(struct docker *d, const struct docker_event *ev, void *userdata)
{
	struct events_seen *s = userdata;

	fprintf(stderr, "# event %s %.12s %s pid %d\n", ev->action, ev->id ? ev->id : "-",
		ev->name ? ev->name : "-", (int)ev->pid);
	if (!ev->id || strcmp(ev->id, s->id) != 0)
		return;
	if (strcmp(ev->action, "die") == 0)
		s->died = true;
	if (strcmp(ev->action, "start") == 0 && s->died) {
		s->new_pid = ev->pid;
		s->started = true;
	}
}

static void test_events_restart(void **state)
{
	struct result res = { 0 };
	struct events_seen seen = { 0 };
	struct docker_events_filter f = { .label = label };
	struct docker_op *ev = NULL;
	_cleanup_free_ char *id = NULL, *cmd = NULL;

	create("--network none --init " IMAGE " nc -ll -p 3306 -e /bin/cat", &res);
	assert_int_equal(res.r, 0);
	id = strdup(res.id);
	seen.id = id;
	seen.old_pid = res.pid;
	result_done(&res);

	assert_int_equal(docker_events(dk, &f, on_event, &seen, &ev), 0);
	/* let the stream connect before the restart */
	for (int i = 0; i < 10; i++)
		(void)sd_event_run(loop, 20000);
	assert_true(asprintf(&cmd, "docker restart -t 1 %s >/dev/null", id) > 0);
	assert_int_equal(system(cmd), 0);
	run_until(&seen.started, 30);
	docker_op_cancel(ev);
	assert_true(seen.new_pid > 0);
	assert_int_not_equal(seen.new_pid, seen.old_pid);
	/* the new namespace answers */
	echo_in_container(seen.new_pid, 3306);
	remove_container(id);
}

struct die_seen {
	const char *id;
	bool died;
	int exit_code;
};

static void on_event_die(struct docker *d, const struct docker_event *ev, void *userdata)
{
	struct die_seen *s = userdata;

	if (ev->id && strcmp(ev->id, s->id) == 0 && strcmp(ev->action, "die") == 0) {
		s->exit_code = ev->exit_code;
		s->died = true;
	}
}

/* A die event carries the exit code (its "exitCode" attribute is a string: "137"). */
static void test_events_die_exit_code(void **state)
{
	struct result res = { 0 };
	struct die_seen seen = { 0 };
	struct docker_events_filter f = { .label = label };
	struct docker_op *ev = NULL;
	_cleanup_free_ char *id = NULL, *cmd = NULL;

	create("--network none --init " IMAGE " nc -ll -p 3306 -e /bin/cat", &res);
	assert_int_equal(res.r, 0);
	id = strdup(res.id);
	seen.id = id;
	result_done(&res);

	assert_int_equal(docker_events(dk, &f, on_event_die, &seen, &ev), 0);
	for (int i = 0; i < 10; i++)
		(void)sd_event_run(loop, 20000);
	assert_true(asprintf(&cmd, "docker kill -s KILL %s >/dev/null", id) > 0);
	assert_int_equal(system(cmd), 0);
	run_until(&seen.died, 30);
	docker_op_cancel(ev);
	assert_int_equal(seen.exit_code, 128 + SIGKILL);
	remove_container(id);
}

struct reconnect_seen {
	bool reconnected;
	bool started;
	char *id;
};

static void on_event_reconnect(struct docker *d, const struct docker_event *ev, void *userdata)
{
	struct reconnect_seen *s = userdata;

	fprintf(stderr, "# event %s %.12s pid %d\n", ev->action, ev->id ? ev->id : "-",
		(int)ev->pid);
	if (strcmp(ev->action, "reconnect") == 0) {
		assert_null(ev->id);
		s->reconnected = true;
	} else if (strcmp(ev->action, "start") == 0 && s->reconnected) {
		assert_true(ev->pid > 0);
		free(s->id);
		s->id = strdup(ev->id);
		s->started = true;
	}
}

/*
 * Restarts the private dockerd under a running events stream. Only when this test started that
 * engine itself, or WORMHOLE_TEST_DOCKERD_RESTART=1 says it may (other tests may be using it).
 */
static void test_events_survive_dockerd_restart(void **state)
{
	struct reconnect_seen seen = { 0 };
	struct docker_events_filter f = { .label = label };
	struct docker_op *ev = NULL;
	struct result res = { 0 };
	const char *host = getenv("DOCKER_HOST");
	const char *allow = getenv("WORMHOLE_TEST_DOCKERD_RESTART");
	_cleanup_free_ char *cmd = NULL;

	if (!host || strcmp(host, private_host) != 0 || !srcdir[0] ||
	    !(started_dockerd || (allow && strcmp(allow, "1") == 0)))
		skip();
	assert_int_equal(docker_events(dk, &f, on_event_reconnect, &seen, &ev), 0);
	for (int i = 0; i < 10; i++)
		(void)sd_event_run(loop, 20000);
	assert_true(
		asprintf(&cmd,
			 "%s/tests/lib/dockerd.sh stop && %s/tests/lib/dockerd.sh start >/dev/null",
			 srcdir, srcdir) > 0);
	assert_int_equal(system(cmd), 0);
	/* the stream comes back by itself: a "reconnect", then events again */
	run_until(&seen.reconnected, 30);
	create("--network none --init " IMAGE " sleep 600", &res);
	assert_int_equal(res.r, 0);
	run_until(&seen.started, 30);
	assert_string_equal(seen.id, res.id);
	docker_op_cancel(ev);
	remove_container(res.id);
	result_done(&res);
	free(seen.id);
}

/* ---- pull from a local registry ------------------------------------------------------------ */

static pid_t registry_pid;
static char registry_dir[] = "/tmp/wormhole-test-registry-XXXXXX";

static int registry_start(void)
{
	char conf[PATH_MAX], cmd[PATH_MAX + 64];
	FILE *f;

	if (access("/usr/bin/docker-registry", X_OK) != 0)
		return -ENOENT;
	if (!mkdtemp(registry_dir))
		return -errno;
	(void)snprintf(conf, sizeof(conf), "%s/config.yml", registry_dir);
	f = fopen(conf, "w");
	if (!f)
		return -errno;
	fprintf(f,
		"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: "
		"%s/data\nhttp:\n  addr: 127.0.0.1:5000\n",
		registry_dir);
	fclose(f);
	registry_pid = fork();
	if (registry_pid < 0)
		return -errno;
	if (registry_pid == 0) {
		(void)snprintf(cmd, sizeof(cmd), "%s/registry.log", registry_dir);
		int lfd = open(cmd, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (lfd >= 0) {
			dup2(lfd, 1);
			dup2(lfd, 2);
		}
		execl("/usr/bin/docker-registry", "docker-registry", "serve", conf, (char *)NULL);
		_exit(127);
	}
	/* bounded wait for the port */
	for (int i = 0; i < 100; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(5000) };
		_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			return 0;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

static void registry_stop(void)
{
	char cmd[PATH_MAX + 16];

	if (registry_pid > 0) {
		(void)kill(registry_pid, SIGTERM);
		(void)waitpid(registry_pid, NULL, 0);
		registry_pid = 0;
	}
	if (registry_dir[strlen(registry_dir) - 1] != 'X') {
		(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", registry_dir);
		(void)system(cmd);
	}
}

static void test_pull_local_registry(void **state)
{
	struct result res = { 0 };
	int r;

	r = registry_start();
	if (r < 0) {
		registry_stop();
		skip(); /* docker-registry not installed or not starting */
	}
	assert_int_equal(
		system("docker tag " IMAGE " 127.0.0.1:5000/wormhole-test/pulled:1 && "
		       "docker push -q 127.0.0.1:5000/wormhole-test/pulled:1 >/dev/null && "
		       "docker rmi 127.0.0.1:5000/wormhole-test/pulled:1 >/dev/null"),
		0);
	create("--network none --init 127.0.0.1:5000/wormhole-test/pulled:1 nc -ll -p 3306 -e "
	       "/bin/cat",
	       &res);
	registry_stop();
	fprintf(stderr, "# %s\n", res.error ? res.error : "pulled and started");
	assert_int_equal(res.r, 0);
	assert_true(res.n_progress > 0);
	echo_in_container(res.pid, 3306);
	remove_container(res.id);
	result_done(&res);
	(void)system("docker rmi 127.0.0.1:5000/wormhole-test/pulled:1 >/dev/null 2>&1");
}

/* ---- setup ------------------------------------------------------------------------------- */

static bool engine_answers(const char *host)
{
	struct docker *d = NULL;
	struct result res = { 0 };
	bool ok;

	if (docker_new(loop, host, &d) < 0)
		return false;
	docker_set_timeout(d, 5000000);
	if (docker_ping(d, on_ping, &res, NULL) < 0) {
		docker_free(d);
		return false;
	}
	while (!res.done)
		(void)sd_event_run(loop, 100000);
	ok = res.r == 0;
	result_done(&res);
	docker_free(d);
	return ok;
}

static bool find_srcdir(void)
{
	const char *env = getenv("WORMHOLE_SRCDIR");
	char path[PATH_MAX + 32];

	if (env && env[0])
		(void)snprintf(srcdir, sizeof(srcdir), "%s", env);
	else {
		/* __FILE__ is ../tests/integration/test-docker.c seen from the build directory */
		(void)snprintf(path, sizeof(path), "%s", __FILE__);
		char *p = strstr(path, "tests/integration/test-docker.c");
		if (!p)
			return false;
		*p = '\0';
		if (!realpath(path[0] ? path : ".", srcdir))
			return false;
	}
	(void)snprintf(path, sizeof(path), "%s/tests/lib/dockerd.sh", srcdir);
	return access(path, X_OK) == 0;
}

static int setup(void **state)
{
	char cmd[PATH_MAX + 64];
	const char *host = getenv("DOCKER_HOST");
	const char *sock = getenv("WORMHOLE_DOCKERD_SOCK");

	(void)snprintf(private_host, sizeof(private_host), "unix://%s",
		       sock && sock[0] ? sock : PRIVATE_SOCKET);
	(void)snprintf(label, sizeof(label), "%s=unit-test-%d", label_key, (int)getpid());
	if (sd_event_default(&loop) < 0)
		return -1;
	if (netns_init() < 0)
		return -1;
	if (!host || !host[0]) {
		host = NULL;
		if (engine_answers(private_host))
			host = private_host;
		else if (engine_answers("unix:///var/run/docker.sock"))
			host = "unix:///var/run/docker.sock";
		if (!host && geteuid() == 0 && find_srcdir()) {
			(void)snprintf(cmd, sizeof(cmd), "%s/tests/lib/dockerd.sh start >/dev/null",
				       srcdir);
			if (system(cmd) == 0 && engine_answers(private_host)) {
				host = private_host;
				started_dockerd = true;
			}
		}
		if (host)
			(void)setenv("DOCKER_HOST", host, 1);
	}
	if (!host || !engine_answers(host)) {
		printf("SKIP: no Docker engine answers (DOCKER_HOST=%s)\n", host ? host : "");
		exit(77);
	}
	if (find_srcdir()) {
		(void)snprintf(cmd, sizeof(cmd), "%s/tests/lib/images.sh", srcdir);
		if (system(cmd) != 0) {
			printf("SKIP: cannot build the test image with tests/lib/images.sh\n");
			exit(77);
		}
	}
	if (docker_new(loop, NULL, &dk) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct result res = { 0 };
	char cmd[PATH_MAX + 64];

	registry_stop();
	/* whatever a failed test left: remove everything carrying our label */
	if (docker_list_by_label(dk, label, on_ids, &res, NULL) == 0) {
		while (!res.done)
			(void)sd_event_run(loop, 100000);
		for (char **p = res.ids; p && *p; p++) {
			struct result rm = { 0 };

			fprintf(stderr, "# removing leftover %.12s\n", *p);
			if (docker_remove(dk, *p, on_done, &rm, NULL) == 0)
				while (!rm.done)
					(void)sd_event_run(loop, 100000);
			result_done(&rm);
		}
		result_done(&res);
	}
	dk = docker_free(dk);
	loop = sd_event_unref(loop);
	if (started_dockerd) {
		(void)snprintf(cmd, sizeof(cmd), "%s/tests/lib/dockerd.sh stop", srcdir);
		(void)system(cmd);
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_no_such_container),
		cmocka_unit_test(test_echo_container),
		cmocka_unit_test(test_ambiguous_prefix),
		cmocka_unit_test(test_missing_image),
		cmocka_unit_test(test_bad_command),
		cmocka_unit_test(test_cancel_create),
		cmocka_unit_test(test_events_restart),
		cmocka_unit_test(test_events_die_exit_code),
		cmocka_unit_test(test_pull_local_registry),
		cmocka_unit_test(test_events_survive_dockerd_restart),
	};

	if (geteuid() != 0) {
		printf("SKIP: needs root (setns into container namespaces)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
