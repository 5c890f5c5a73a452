/* SPDX-License-Identifier: MIT */
/*
 * fuzz-docker.c - libFuzzer entry point for what the Docker Engine API sends back
 *
 * The daemon parses three kinds of Engine API output: inspect answers (docker_info_parse()),
 * error bodies (docker_http_error()) and lines of the event stream
 * (docker_event_line_parse()). The input, up to its first NUL, goes to all three. What they
 * accept must hold what lib/docker promises, or the target aborts: an inspected container has an
 * id, an error always has a message, a parsed event has an action and an id.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "docker-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *s = strndup((const char *)data, size);
	struct docker_container_info info = { 0 };
	struct docker_event_line ev = { 0 };
	static const long statuses[] = { 304, 400, 404, 409, 500 };
	int r;

	if (!s)
		return 0;
	r = docker_info_parse(s, &info);
	if (r == 0) {
		if (!info.id || !*info.id)
			abort();
		docker_info_done(&info);
	}
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		char *msg = NULL;

		r = docker_http_error(statuses[i], s, &msg);
		if (r >= 0 || !msg)
			abort();
		free(msg);
	}
	r = docker_event_line_parse(s, &ev);
	if (r == 1) {
		if (!ev.action || !ev.id)
			abort();
		docker_event_line_done(&ev);
	} else if (r != 0) {
		abort();
	}
	return 0;
}
