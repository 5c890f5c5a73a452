/* SPDX-License-Identifier: MIT */
/*
 * test-h2-link - two peer links over real TCP on loopback with real OpenSSL: handshake with the
 * same key, streams opened by either end, bulk data both ways with half-close, per-stream flow
 * control (a stream nobody reads does not stall another), a wrong key refused on both ends,
 * peer keys loaded and checked; `remote` arguments looked up without blocking when asked to.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "h2-link.h"
#include "link-manager.h"
#include "peer-key.h"
#include "sockaddr.h"
#include "stream.h"
#include "tls-psk.h"

struct side {
	struct h2_link *link;
	bool up, down;
	int down_error;
	struct stream *got; /* the last stream that arrived */
	char path[64];
	bool refuse;
};

static sd_event *ev;

static void on_up(struct h2_link *l, void *userdata)
{
	((struct side *)userdata)->up = true;
}

static int on_stream(struct h2_link *l, const char *path, struct stream *st, void *userdata)
{
	struct side *s = userdata;

	if (s->refuse)
		return -ENOENT;
	s->got = st;
	snprintf(s->path, sizeof(s->path), "%s", path);
	return 0;
}

static void on_down(struct h2_link *l, int error, char *reason, void *userdata)
{
	struct side *s = userdata;

	free(reason);
	s->down = true;
	s->down_error = error;
}

static const struct h2_link_ops ops = { .up = on_up, .stream = on_stream, .down = on_down };

static void make_key(struct peer_key *k, uint8_t fill)
{
	memset(k, 0, sizeof(*k));
	memset(k->bytes, fill, 32);
	k->len = 32;
}

/* a connected TCP pair on loopback */
static void tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(fds[0] >= 0);
	(void)connect(fds[0], (struct sockaddr *)&a, sizeof(a));
	fds[1] = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	assert_true(fds[1] >= 0);
	close(l);
}

static void run_until(bool *cond, int max_iter)
{
	for (int i = 0; i < max_iter && !*cond; i++)
		assert_true(sd_event_run(ev, 100 * 1000) >= 0);
}

static void link_pair(struct side *c, struct side *s, uint8_t ckey, uint8_t skey)
{
	struct peer_key kc, ks;
	SSL_CTX *cctx, *sctx;
	int fds[2];

	make_key(&kc, ckey);
	make_key(&ks, skey);
	assert_int_equal(tls_psk_ctx_new(&kc, false, &cctx), 0);
	assert_int_equal(tls_psk_ctx_new(&ks, true, &sctx), 0);
	tcp_pair(fds);
	assert_int_equal(h2_link_new(ev, fds[0], cctx, true, &ops, c, &c->link), 0);
	assert_int_equal(h2_link_new(ev, fds[1], sctx, false, &ops, s, &s->link), 0);
	SSL_CTX_free(cctx); /* the links hold their own references */
	SSL_CTX_free(sctx);
}

/* pump @len bytes from @a to @b and back the other way at the same time; check the content */
static void transfer(struct stream *a, struct stream *b, size_t len)
{
	_cleanup_free_ uint8_t *src = malloc(len), *dst = malloc(len);
	size_t sent = 0, got = 0;
	bool eof = false;

	assert_non_null(src);
	assert_non_null(dst);
	for (size_t i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 7 + i / 251);
	for (int iter = 0; iter < 100000 && !eof; iter++) {
		ssize_t n;

		if (sent < len) {
			n = a->ops->write(a, src + sent, len - sent);
			if (n > 0)
				sent += (size_t)n;
			else
				assert_int_equal(n, -EAGAIN);
			if (sent == len)
				assert_int_equal(a->ops->shutdown_write(a), 0);
		}
		for (;;) {
			n = b->ops->read(b, dst + got, len - got + (got == len));
			if (n == -EAGAIN)
				break;
			assert_true(n >= 0);
			if (n == 0) {
				eof = true;
				break;
			}
			got += (size_t)n;
		}
		if (!eof)
			assert_true(sd_event_run(ev, 100 * 1000) >= 0);
	}
	assert_true(eof);
	assert_int_equal(got, len);
	assert_memory_equal(src, dst, len);
}

static void test_streams_both_ways(void **state)
{
	struct side c = { 0 }, s = { 0 };
	struct stream *st = NULL, *rst = NULL;

	link_pair(&c, &s, 1, 1);
	/* opened before the handshake: it goes out with the link */
	assert_int_equal(h2_link_open(c.link, "/data/web", &st), 0);
	run_until(&s.up, 100);
	run_until(&c.up, 100);
	assert_true(c.up && s.up);
	assert_true(h2_link_is_up(c.link));
	{
		/* the accepting end's own address is the one the dialer connected to */
		char local[SOCKADDR_STR_MAX];

		assert_int_equal(h2_link_local(s.link, local), 0);
		assert_string_equal(local, h2_link_peer(c.link));
	}
	assert_int_equal(st->ops->write(st, "x", 1), 1);
	for (int i = 0; i < 100 && !s.got; i++)
		sd_event_run(ev, 100 * 1000);
	assert_non_null(s.got);
	assert_string_equal(s.path, "/data/web");
	{
		char b;

		for (int i = 0; i < 100 && s.got->ops->read(s.got, &b, 1) == -EAGAIN; i++)
			sd_event_run(ev, 100 * 1000);
		assert_int_equal(b, 'x');
	}
	transfer(st, s.got, 3 * 1024 * 1024 + 17);
	transfer(s.got, st, 2 * 1024 * 1024 + 5);
	stream_free(st);
	stream_free(s.got);
	s.got = NULL;

	/* the accepting end opens one (through the client's /rev stream) */
	assert_int_equal(h2_link_open(s.link, "/ctl", &rst), 0);
	assert_int_equal(rst->ops->write(rst, "hello", 5), 5);
	for (int i = 0; i < 100 && !c.got; i++)
		sd_event_run(ev, 100 * 1000);
	assert_non_null(c.got);
	assert_string_equal(c.path, "/ctl");
	transfer(c.got, rst, 1024 * 1024);
	{
		char b[8];
		ssize_t n = -EAGAIN;

		for (int i = 0; i < 100 && n == -EAGAIN; i++) {
			n = c.got->ops->read(c.got, b, sizeof(b));
			if (n == -EAGAIN)
				sd_event_run(ev, 100 * 1000);
		}
		assert_int_equal(n, 5);
		assert_memory_equal(b, "hello", 5);
	}
	stream_free(rst);
	stream_free(c.got);

	/* a refused stream: reads say so */
	s.refuse = true;
	assert_int_equal(h2_link_open(c.link, "/data/nothing", &st), 0);
	{
		char b;
		ssize_t n = -EAGAIN;

		for (int i = 0; i < 100 && n == -EAGAIN; i++) {
			n = st->ops->read(st, &b, 1);
			if (n == -EAGAIN)
				sd_event_run(ev, 100 * 1000);
		}
		assert_int_equal(n, -ECONNREFUSED);
	}
	stream_free(st);
	assert_int_equal(h2_link_streams(c.link), 0);

	/* one end goes away: the other's down() comes, its streams fail */
	assert_int_equal(h2_link_open(c.link, "/data/x", &st), 0);
	s.refuse = false;
	for (int i = 0; i < 100 && !s.got; i++)
		sd_event_run(ev, 100 * 1000);
	s.link = h2_link_free(s.link);
	run_until(&c.down, 100);
	assert_true(c.down);
	{
		char b;

		assert_int_equal(st->ops->read(st, &b, 1), -ECONNRESET);
	}
	stream_free(st);
	stream_free(s.got);
	h2_link_free(c.link);
}

static void test_flow_control(void **state)
{
	struct side c = { 0 }, s = { 0 };
	struct stream *slow = NULL, *fast = NULL, *slow_in, *fast_in;
	static uint8_t chunk[65536];
	size_t slow_sent = 0;

	link_pair(&c, &s, 2, 2);
	assert_int_equal(h2_link_open(c.link, "/data/slow", &slow), 0);
	run_until(&c.up, 100);
	assert_int_equal(slow->ops->write(slow, "s", 1), 1);
	for (int i = 0; i < 100 && !s.got; i++)
		sd_event_run(ev, 100 * 1000);
	slow_in = s.got;
	s.got = NULL;
	assert_non_null(slow_in);
	/* fill the slow stream until it pushes back; nobody reads it */
	for (int i = 0; i < 2000; i++) {
		ssize_t n = slow->ops->write(slow, chunk, sizeof(chunk));

		if (n > 0)
			slow_sent += (size_t)n;
		sd_event_run(ev, 1000);
	}
	assert_true(slow_sent >= H2_LINK_STREAM_WINDOW);
	assert_true(slow_sent < 4 * 1024 * 1024); /* bounded: window + send buffer */
	/* another stream still moves 8 MiB */
	assert_int_equal(h2_link_open(c.link, "/data/fast", &fast), 0);
	assert_int_equal(fast->ops->write(fast, "f", 1), 1);
	for (int i = 0; i < 100 && !s.got; i++)
		sd_event_run(ev, 100 * 1000);
	fast_in = s.got;
	assert_non_null(fast_in);
	{
		char b;

		for (int i = 0; i < 100 && fast_in->ops->read(fast_in, &b, 1) == -EAGAIN; i++)
			sd_event_run(ev, 100 * 1000);
	}
	transfer(fast, fast_in, 8 * 1024 * 1024);
	stream_free(fast);
	stream_free(fast_in);
	stream_free(slow);
	stream_free(slow_in);
	h2_link_free(c.link);
	h2_link_free(s.link);
}

static void test_wrong_key(void **state)
{
	struct side c = { 0 }, s = { 0 };

	link_pair(&c, &s, 3, 4);
	for (int i = 0; i < 200 && !(c.down && s.down); i++)
		sd_event_run(ev, 100 * 1000);
	assert_true(c.down);
	assert_true(s.down);
	assert_false(c.up);
	assert_false(s.up);
	assert_int_equal(s.down_error, -EACCES);
	h2_link_free(c.link);
	h2_link_free(s.link);
}

static void test_key_files(void **state)
{
	char dir[] = "/tmp/test-peer-key-XXXXXX", path[128];
	_cleanup_free_ char *err = NULL;
	struct peer_key k;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/key.secret", dir);
	assert_int_equal(peer_key_generate(path, &err), 0);
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	assert_int_equal(peer_key_load(path, &k, &err), 0);
	assert_int_equal(k.len, 32);
	peer_key_wipe(&k);
	assert_int_equal(peer_key_generate(path, &err), -EEXIST);
	free(err);
	err = NULL;
	/* too open */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(peer_key_load(path, &k, &err), -EPERM);
	assert_non_null(strstr(err, "chmod 600"));
	free(err);
	err = NULL;
	/* too short */
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abcdef\n", 7), 7);
	close(fd);
	assert_int_equal(peer_key_load(path, &k, &err), -EINVAL);
	assert_non_null(strstr(err, "less than 32 bytes"));
	free(err);
	err = NULL;
	unlink(path);
	assert_int_equal(peer_key_load(path, &k, &err), -ENOENT);
	assert_non_null(strstr(err, "wormhole keygen"));
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

/* peer_manager_get_arg(): "HOST[:PORT]" as `remote` takes it; resolve=false never looks up */
static void test_manager_get_arg(void **state)
{
	static const struct peer_manager_ops mops = { 0 };
	struct peer_manager *m = NULL;
	struct peer *a = NULL, *b = NULL, *c = NULL;
	char *err = NULL;
	struct peer_key k;

	make_key(&k, 7);
	assert_int_equal(peer_manager_new(ev, &k, &mops, NULL, &m), 0);
	assert_int_equal(peer_manager_get_arg(m, "198.18.0.9", false, &a, &err), 0);
	assert_string_equal(peer_name(a), "198.18.0.9:9999");
	assert_int_equal(peer_manager_get_arg(m, "198.18.0.9:9999", false, &b, &err), 0);
	assert_ptr_equal(a, b); /* the same peer, a reference more */
	assert_int_equal(peer_manager_get_arg(m, "[fd57:6f72::9]:1234", false, &c, &err), 0);
	assert_string_equal(peer_name(c), "[fd57:6f72::9]:1234");
	assert_false(peer_is_named(c));
	peer_unref(c);
	c = NULL;
	/* a name that no daemon linked: an error, not a lookup that would block the loop */
	assert_int_equal(peer_manager_get_arg(m, "no-such-peer", false, &c, &err), -EADDRNOTAVAIL);
	assert_null(c);
	assert_non_null(strstr(err, "'no-such-peer' is neither a numeric address"));
	free(err);
	err = NULL;
	assert_int_equal(peer_manager_get_arg(m, "198.18.0.9:99999", false, &c, &err), -EINVAL);
	assert_non_null(strstr(err, "'198.18.0.9:99999'"));
	free(err);
	peer_unref(b);
	peer_unref(a);
	peer_manager_free(m);
}

static int setup(void **state)
{
	return sd_event_new(&ev) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	ev = sd_event_unref(ev);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams_both_ways), cmocka_unit_test(test_flow_control),
		cmocka_unit_test(test_wrong_key),	  cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_manager_get_arg),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
