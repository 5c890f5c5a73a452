/* SPDX-License-Identifier: MIT */
/*
 * url.c - `url URL`: set the protocol, namespace, host, port or path of the head or the tail
 *
 * Only the parts the URL gives overwrite the endpoint, as in the original: `url :9000` keeps the
 * host and namespace set by earlier words. A named namespace is opened here, so a missing one is
 * an error at this word (at creation, or at the first connection when the word is a trigger).
 * `url fd:NAME` makes the head a listener the service manager passed (lib/engine/head-fd.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chains.h"
#include "cleanup.h"
#include "errmsg.h"
#include "head.h"
#include "netns.h"
#include "segment.h"
#include "url.h"

static int replace_str(char **dst, const char *src)
{
	char *n = strdup(src);

	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

static int url_apply(struct segment *s, const struct spec_word *w, struct endpoint *target,
		     void **ret_state, char **ret_error, chain_done_fn done, void *userdata)
{
	_cleanup_free_ char *err = NULL;
	struct url u = { 0 };
	int r;

	r = url_parse(w->arg, &u, &err);
	if (r < 0) {
		(void)errmsg_set(ret_error, "word %u 'url': %s", w->pos, err ?: "invalid URL");
		return r;
	}
	if (u.fd_name) {
		/* the spec allows it only on the first head (lib/grammar/spec.c) */
		r = replace_str(&target->fd_name, u.fd_name);
		if (r < 0)
			goto out;
		if (target == &s->head)
			s->head_ops = &head_fd_ops;
		*ret_state = NULL;
		goto out;
	}
	if (u.ns) {
		int fd = netns_open_named(u.ns);

		if (fd < 0) {
			r = fd;
			(void)errmsg_set(
				ret_error,
				"word %u 'url': network namespace '%s' (/run/netns/%s): %s", w->pos,
				u.ns, u.ns, strerror(-r));
			goto out;
		}
		target->nsfd = safe_close(target->nsfd);
		target->nsfd = fd;
		r = replace_str(&target->ns_name, u.ns);
		if (r < 0)
			goto out;
	}
	if (u.proto != URL_PROTO_NONE)
		target->proto = u.proto;
	if (u.host) {
		r = replace_str(&target->host, u.host);
		if (r < 0)
			goto out;
	}
	if (u.path) {
		r = replace_str(&target->path, u.path);
		if (r < 0)
			goto out;
	}
	if (u.port)
		target->port = u.port;
	*ret_state = NULL;
	r = 0;
out:
	url_done(&u);
	return r;
}

const struct chain_op chain_op_url = {
	.apply = url_apply,
	/* nothing to undo: the endpoint is the segment's and goes with it */
};
