/* SPDX-License-Identifier: MIT */
/*
 * fuzz-docker-args.c - libFuzzer entry point for the docker-run argument (lib/grammar/docker-args.h)
 *
 * The input, up to its first NUL, is one docker-run word: shell-like splitting, then `docker run`
 * flags, image and command. A successful parse must have a non-empty image, or the target
 * aborts. docker_ref_valid() runs on the input and on every --name the parser accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "docker-args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *s = strndup((const char *)data, size);
	_cleanup_free_ char *err = NULL;
	struct docker_run_args d = { 0 };

	if (!s)
		return 0;
	(void)docker_ref_valid(s);
	if (docker_run_args_parse(s, &d, &err) < 0)
		return 0;
	if (!d.image || !d.image[0])
		abort();
	if (d.name)
		(void)docker_ref_valid(d.name);
	docker_run_args_done(&d);
	return 0;
}
