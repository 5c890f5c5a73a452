/* SPDX-License-Identifier: MIT */
/*
 * test-key-rules.c - the rules of scoped peer keys: parsing, and each rule allowing and refusing
 * a create or an op, with the refusal naming the rule
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
#include "key-rules.h"
#include "spec.h"
#include "strv.h"

static bool self_is_home(const char *host, void *userdata)
{
	return strcmp(host, "home") == 0;
}

/* 0, or -EPERM with the refusal in *err; @spec: the create words separated by '|' */
static int check(const char *rules, const char *spec, char **err)
{
	_cleanup_(key_rules_freep) struct key_rules *kr = NULL;
	_cleanup_(spec_freep) struct spec *sp = NULL;
	_cleanup_(strv_freep) char **words = NULL;
	_cleanup_free_ char *copy = strdup(spec);
	char *save = NULL;
	size_t n = 0;

	assert_non_null(copy);
	free(*err); /* spec_parse() starts by setting *err to NULL */
	*err = NULL;
	for (char *w = strtok_r(copy, "|", &save); w; w = strtok_r(NULL, "|", &save))
		assert_int_equal(strv_push_dup(&words, &n, w), 0);
	assert_int_equal(key_rules_parse(rules, &kr, err), 0);
	assert_int_equal(spec_parse(words, &sp, err), 0);
	return key_rules_check_create(kr, sp, false, self_is_home, NULL, err);
}

static void test_parse(void **state)
{
	struct key_rules *kr = NULL;
	_cleanup_free_ char *err = NULL;

	assert_int_equal(key_rules_parse("", &kr, &err), 0);
	assert_null(kr); /* no rule: full power */
	assert_int_equal(
		key_rules_parse("port=80,443,8000-8099 remote=self no-docker-run", &kr, &err), 0);
	assert_non_null(kr);
	kr = key_rules_free(kr);
	assert_int_equal(key_rules_parse("port=0", &kr, &err), -EINVAL);
	assert_non_null(strstr(err, "port=0"));
	assert_int_equal(key_rules_parse("port=90-80", &kr, &err), -EINVAL);
	assert_int_equal(key_rules_parse("sudo", &kr, &err), -EINVAL);
	assert_non_null(strstr(err, "'sudo'"));
	assert_int_equal(key_rules_parse("read-only=yes", &kr, &err), -EINVAL);
	assert_null(kr);
}

static void test_port(void **state)
{
	const char *ok = "url|0.0.0.0:8081|remote|home|tail|url|:8080";
	const char *bad = "url|0.0.0.0:22|tail|url|:22";
	const char *eph = "tail|url|:22";
	_cleanup_free_ char *err = NULL;

	assert_int_equal(check("port=80,8080-8089", ok, &err), 0);
	assert_int_equal(check("port=80,8080-8089", bad, &err), -EPERM);
	assert_non_null(strstr(err, "refused by rule 'port=80,8080-8089': the head is on port 22"));
	assert_int_equal(check("port=80", eph, &err), -EPERM);
	assert_non_null(strstr(err, "ephemeral"));
}

static void test_remote(void **state)
{
	const char *home = "url|:80|remote|home|tail|url|:8080";
	const char *two = "url|:80|remote|home,other|tail|url|:8080";
	const char *ip = "url|:80|remote|198.18.0.9|tail|url|:8080";
	_cleanup_free_ char *err = NULL;

	assert_int_equal(check("remote=self", home, &err), 0);
	assert_int_equal(check("remote=self", two, &err), -EPERM);
	assert_non_null(strstr(err, "'remote=self'"));
	assert_int_equal(check("remote=self", ip, &err), -EPERM);
	assert_int_equal(check("remote=198.18.0.9", ip, &err), 0);
	assert_int_equal(check("remote=none", home, &err), -EPERM);
	/* the words after `remote` are the peer's to check: a docker-run there is not ours */
	{
		const char *far = "url|:80|remote|home|tail|docker-run|alpine";

		assert_int_equal(check("no-docker-run", far, &err), 0);
	}
}

static void test_docker(void **state)
{
	const char *run = "url|:80|tail|docker-run|--name web-1 alpine";
	const char *ns = "url|:80|tail|docker-ns|db";
	const char *child = "url|:80|tail|url|:81|child|tail|docker-ns|db";
	_cleanup_free_ char *err = NULL;

	assert_int_equal(check("no-docker-run", run, &err), -EPERM);
	assert_non_null(strstr(err, "'no-docker-run'"));
	assert_int_equal(check("container=web-*", run, &err), 0);
	assert_int_equal(check("container=web-*", ns, &err), -EPERM);
	assert_non_null(strstr(err, "'container=web-*'"));
	assert_int_equal(check("container=web-*", child, &err), -EPERM); /* children are ours */
}

static void test_ops(void **state)
{
	_cleanup_(key_rules_freep) struct key_rules *ro = NULL, *ports = NULL, *name = NULL;
	_cleanup_free_ char *err = NULL;

	assert_int_equal(key_rules_parse("read-only", &ro, &err), 0);
	assert_int_equal(key_rules_check_op(ro, "list", 0, NULL, &err), 0);
	assert_int_equal(key_rules_check_op(ro, "ping", 0, NULL, &err), 0);
	assert_int_equal(key_rules_check_op(ro, "delete", 80, NULL, &err), -EPERM);
	assert_non_null(strstr(err, "'read-only'"));
	assert_int_equal(key_rules_parse("port=80", &ports, &err), 0);
	assert_int_equal(key_rules_check_op(ports, "delete", 80, NULL, &err), 0);
	assert_int_equal(key_rules_check_op(ports, "delete", 22, NULL, &err), -EPERM);
	assert_int_equal(key_rules_check_op(ports, "link", 0, NULL, &err), -EPERM);
	assert_int_equal(key_rules_parse("name=home*", &name, &err), 0);
	assert_int_equal(key_rules_check_op(name, "hello", 0, "homelab", &err), 0);
	assert_int_equal(key_rules_check_op(name, "hello", 0, "gateway", &err), -EPERM);
	assert_int_equal(key_rules_check_op(NULL, "link", 0, NULL, &err), 0); /* full power */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),  cmocka_unit_test(test_port),
		cmocka_unit_test(test_remote), cmocka_unit_test(test_docker),
		cmocka_unit_test(test_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
