/* SPDX-License-Identifier: MIT */
/*
 * test-docker-args.c - the docker-run argument: shell splitting, flags, image, command
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cleanup.h"
#include "docker-args.h"

static void check_strv(char **got, const char *const *want)
{
	size_t i;

	if (!want || !want[0]) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	for (i = 0; want[i]; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[i]);
}

static void parse_ok(const char *in, struct docker_run_args *a)
{
	_cleanup_free_ char *err = NULL;
	int r;

	r = docker_run_args_parse(in, a, &err);
	if (r != 0)
		print_error("docker_run_args_parse(\"%s\") failed: %s\n", in, err ? err : "?");
	assert_int_equal(r, 0);
	assert_null(err);
	assert_non_null(a->image);
}

static void parse_err(const char *in, const char *want)
{
	struct docker_run_args a = {};
	_cleanup_free_ char *err = NULL;
	int r;

	r = docker_run_args_parse(in, &a, &err);
	if (r != -EINVAL || !err || !strstr(err, want))
		print_error("docker_run_args_parse(\"%s\") = %d '%s', expected '%s'\n", in, r,
			    err ? err : "", want);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err, want));
	assert_null(a.image);
}

static void test_image_only(void **state)
{
	struct docker_run_args a = {};

	parse_ok("wormhole/pong", &a);
	assert_string_equal(a.image, "wormhole/pong");
	assert_null(a.cmd);
	assert_null(a.name);
	assert_null(a.env);
	assert_false(a.init);
	assert_false(a.rm);
	docker_run_args_done(&a);
	assert_null(a.image);
}

static void test_all_flags(void **state)
{
	struct docker_run_args a = {};

	parse_ok("--name db -e A=1 --env=B=2 -eC=3 -v /srv:/data --volume=vol:/x:ro -l k=v "
		 "--label=bare -w /app --workdir=/w2 -u 1000:1000 --entrypoint '' --network none "
		 "--init --rm mysql:8 mysqld --port 3306",
		 &a);
	assert_string_equal(a.name, "db");
	check_strv(a.env, (const char *[]){ "A=1", "B=2", "C=3", NULL });
	check_strv(a.volumes, (const char *[]){ "/srv:/data", "vol:/x:ro", NULL });
	check_strv(a.labels, (const char *[]){ "k=v", "bare=", NULL });
	assert_string_equal(a.workdir, "/w2"); /* the last one wins, as in docker */
	assert_string_equal(a.user, "1000:1000");
	assert_string_equal(a.entrypoint, "");
	assert_string_equal(a.network, "none");
	assert_true(a.init);
	assert_true(a.rm);
	assert_string_equal(a.image, "mysql:8");
	check_strv(a.cmd, (const char *[]){ "mysqld", "--port", "3306", NULL });
	docker_run_args_done(&a);
}

static void test_short_and_alias(void **state)
{
	struct docker_run_args a = {};

	parse_ok("-w/app -uroot --net=host -lfoo=bar busybox", &a);
	assert_string_equal(a.workdir, "/app");
	assert_string_equal(a.user, "root");
	assert_string_equal(a.network, "host");
	check_strv(a.labels, (const char *[]){ "foo=bar", NULL });
	docker_run_args_done(&a);

	parse_ok("--rm=false --init=true busybox", &a);
	assert_false(a.rm);
	assert_true(a.init);
	docker_run_args_done(&a);
}

static void test_command_after_image(void **state)
{
	struct docker_run_args a = {};

	/* everything after the image is the command, even flags we do not support */
	parse_ok("busybox sh -c 'echo hi; nc -l -p 80' --privileged", &a);
	assert_string_equal(a.image, "busybox");
	check_strv(a.cmd,
		   (const char *[]){ "sh", "-c", "echo hi; nc -l -p 80", "--privileged", NULL });
	docker_run_args_done(&a);

	/* "--" ends the flags: the next word is the image even if it looks odd */
	parse_ok("--rm -- busybox -x", &a);
	assert_string_equal(a.image, "busybox");
	check_strv(a.cmd, (const char *[]){ "-x", NULL });
	docker_run_args_done(&a);

	/* a flag value is taken even when it looks like a flag (pflag does the same) */
	parse_ok("--entrypoint --weird busybox", &a);
	assert_string_equal(a.entrypoint, "--weird");
	docker_run_args_done(&a);
}

static void test_shell_quoting(void **state)
{
	struct docker_run_args a = {};

	parse_ok("  busybox\techo 'a b' \"c \\\"d\\\" \\$HOME \\x\" e\\ f '' \"\" g'h'\"i\" \\'\n",
		 &a);
	check_strv(a.cmd, (const char *[]){ "echo", "a b", "c \"d\" $HOME \\x", "e f", "", "",
					    "ghi", "'", NULL });
	docker_run_args_done(&a);

	/* no expansions at all */
	parse_ok("busybox echo $HOME `id` ~ *", &a);
	check_strv(a.cmd, (const char *[]){ "echo", "$HOME", "`id`", "~", "*", NULL });
	docker_run_args_done(&a);

	/* backslash-newline joins lines */
	parse_ok("busybox ec\\\nho \\\n x", &a);
	check_strv(a.cmd, (const char *[]){ "echo", "x", NULL });
	docker_run_args_done(&a);

	/* quotes around flags and the image work like in a shell */
	parse_ok("'--name' \"web\" 'busy'box", &a);
	assert_string_equal(a.name, "web");
	assert_string_equal(a.image, "busybox");
	docker_run_args_done(&a);
}

static void test_errors(void **state)
{
	parse_err("--privileged busybox", "unsupported docker-run flag '--privileged'");
	parse_err("--privileged=true busybox", "unsupported docker-run flag '--privileged'");
	parse_err("-p 80:80 busybox", "unsupported docker-run flag '-p'");
	parse_err("-p80:80 busybox", "unsupported docker-run flag '-p'");
	parse_err("-d busybox", "unsupported docker-run flag '-d'");
	parse_err("-it busybox", "unsupported docker-run flag '-i'");
	parse_err("--net", "flag '--net' needs a value");
}

static void test_missing_values(void **state)
{
	parse_err("--name", "flag '--name' needs a value");
	parse_err("-e", "flag '-e' needs a value");
	parse_err("--rm -v", "flag '-v' needs a value");
	parse_err("", "missing image");
	parse_err("   \t", "missing image");
	parse_err("--rm", "missing image");
	parse_err("--name x1 --", "missing image");
	parse_err("--rm=maybe busybox", "takes no value");
}

static void test_quote_errors(void **state)
{
	parse_err("busybox 'echo", "unterminated quote");
	parse_err("busybox \"echo", "unterminated quote");
	parse_err("busybox \"a\\\"", "unterminated quote");
	parse_err("busybox echo\\", "trailing backslash");
}

static void test_value_checks(void **state)
{
	parse_err("--name a/b busybox", "invalid container name 'a/b'");
	parse_err("--name x busybox", "invalid container name 'x'"); /* docker wants 2+ chars */
	parse_err("--name=-x busybox", "invalid container name '-x'");
	parse_err("-e FOO busybox", "needs a value (KEY=VALUE)");
	parse_err("-e =x busybox", "invalid -e value '=x'");
	parse_err("-w relative busybox", "must be an absolute path");
	parse_err("-v '' busybox", "invalid -v value ''");
	parse_err("--network= busybox", "invalid --network value ''");
	parse_err("-l =v busybox", "invalid -l value '=v'");
}

static void test_images(void **state)
{
	static const char *const good[] = {
		"busybox",
		"wormhole/pong",
		"wormhole-test/busybox:latest",
		"library/mysql:8.0.36",
		"localhost:5000/team/app:v1.2_RC",
		"registry.example.org/a/b/c",
		"REGISTRY.Example.org/a",
		"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"busybox:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"a__b.c-d",
	};
	static const struct {
		const char *in, *want;
	} bad[] = {
		{ "Busybox", "must be lowercase" },
		{ "wormhole/Pong", "must be lowercase" },
		{ "busybox:", "bad tag" },
		{ "busybox:-x", "bad tag" },
		{ "busybox:a/b", "invalid image" },
		{ "busybox@sha256:xyz", "bad digest" },
		{ "busybox@:0123456789abcdef0123456789abcdef", "bad digest" },
		{ "/busybox", "invalid image" },
		{ "busybox/", "invalid image" },
		{ "a//b", "invalid image" },
		{ "bu$y", "invalid image" },
		{ "localhost:5000/", "invalid image" },
	};

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		struct docker_run_args a = {};

		parse_ok(good[i], &a);
		assert_string_equal(a.image, good[i]);
		docker_run_args_done(&a);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct docker_run_args a = {};
		_cleanup_free_ char *err = NULL;
		int r = docker_run_args_parse(bad[i].in, &a, &err);

		if (r != -EINVAL || !strstr(err, bad[i].want))
			print_error("image '%s': %d '%s'\n", bad[i].in, r, err ? err : "");
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(err, bad[i].want));
	}
}

static void test_ref_valid(void **state)
{
	char s[200];

	assert_true(docker_ref_valid("mysql"));
	assert_true(docker_ref_valid("/mysql"));
	assert_true(docker_ref_valid("a"));
	assert_true(docker_ref_valid("3f2a"));
	assert_true(docker_ref_valid("my_db.1-x"));
	assert_false(docker_ref_valid(""));
	assert_false(docker_ref_valid("/"));
	assert_false(docker_ref_valid("_x"));
	assert_false(docker_ref_valid("-x"));
	assert_false(docker_ref_valid(".x"));
	assert_false(docker_ref_valid("a/b"));
	assert_false(docker_ref_valid("a b"));
	assert_false(docker_ref_valid("a:b"));
	assert_false(docker_ref_valid("//a"));
	assert_false(docker_ref_valid(NULL));
	memset(s, 'a', 128);
	s[128] = '\0';
	assert_true(docker_ref_valid(s));
	s[128] = 'a';
	s[129] = '\0';
	assert_false(docker_ref_valid(s));
}

/* Every field filled by a real parse, then done: all freed (ASan/valgrind) and the struct zeroed. */
static void test_done_zeroed(void **state)
{
	struct docker_run_args a = {};

	assert_int_equal(docker_run_args_parse("--name web -e A=1 -v /a:/b -l k -w /srv -u 1000 "
					       "--entrypoint sh --network none --init --rm "
					       "alpine:3 echo hi",
					       &a, NULL),
			 0);
	assert_non_null(a.name);
	assert_non_null(a.env);
	assert_non_null(a.volumes);
	assert_non_null(a.labels);
	assert_non_null(a.workdir);
	assert_non_null(a.user);
	assert_non_null(a.entrypoint);
	assert_non_null(a.network);
	assert_true(a.init);
	assert_true(a.rm);
	assert_non_null(a.image);
	assert_non_null(a.cmd);
	docker_run_args_done(&a);
	/* field by field: padding need not be zeroed */
	assert_null(a.name);
	assert_null(a.env);
	assert_null(a.volumes);
	assert_null(a.labels);
	assert_null(a.workdir);
	assert_null(a.user);
	assert_null(a.entrypoint);
	assert_null(a.network);
	assert_false(a.init);
	assert_false(a.rm);
	assert_null(a.image);
	assert_null(a.cmd);
	docker_run_args_done(&a);
	docker_run_args_done(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_only),	cmocka_unit_test(test_all_flags),
		cmocka_unit_test(test_short_and_alias), cmocka_unit_test(test_command_after_image),
		cmocka_unit_test(test_shell_quoting),	cmocka_unit_test(test_errors),
		cmocka_unit_test(test_missing_values),	cmocka_unit_test(test_quote_errors),
		cmocka_unit_test(test_value_checks),	cmocka_unit_test(test_images),
		cmocka_unit_test(test_ref_valid),	cmocka_unit_test(test_done_zeroed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
