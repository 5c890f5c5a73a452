/* SPDX-License-Identifier: MIT */
/*
 * publish-label.c - split `wormhole.publish=ITEM,...` into the words of one segment per item
 *
 * An item's PORT is after its last ':'; what stands before is the head (a unix path may hold
 * ':' itself). The head is given to `url` as written, with "udp/" turned into "udp://" and a
 * bare port into ":PORT"; url_parse() then checks it, so every syntax `url` knows is allowed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "errmsg.h"
#include "publish-label.h"
#include "spec.h"
#include "url.h"

#define PUBLISH_ITEMS_MAX 64

void publish_items_free(struct publish_item *items, size_t n)
{
	for (size_t i = 0; items && i < n; i++) {
		free(items[i].head);
		free(items[i].tail);
		free(items[i].id);
	}
	free(items);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* NAME "." HEAD with every other byte as '-', at most SPEC_ID_MAX */
static char *make_id(const char *name, const char *head)
{
	char *id;
	size_t n;

	if (asprintf(&id, "%s.%s", name, head) < 0)
		return NULL;
	for (char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			*p = '-';
	/* "udp---5353" from "udp://:5353": squeeze runs of '-', and none right after a '.' */
	n = 0;
	for (size_t i = 0; id[i]; i++)
		if (!(id[i] == '-' && n > 0 && (id[n - 1] == '-' || id[n - 1] == '.')))
			id[n++] = id[i];
	while (n > 0 && id[n - 1] == '-')
		n--;
	id[n > SPEC_ID_MAX ? SPEC_ID_MAX : n] = '\0';
	return id;
}

static int parse_item(const char *item, const char *name, struct publish_item *ret, char **reterr)
{
	_cleanup_free_ char *head = NULL, *url_err = NULL;
	const char *colon = strrchr(item, ':'), *h;
	struct url u = {};
	unsigned long port;
	int r;

	if (!colon || !all_digits(colon + 1))
		return ERRMSG_FAIL(reterr,
				   "item '%s': expected [udp/]HOSTPORT:PORT or "
				   "unix:///PATH:PORT",
				   item);
	port = strtoul(colon + 1, NULL, 10);
	if (port < 1 || port > 65535)
		return ERRMSG_FAIL(reterr, "item '%s': invalid port '%s'", item, colon + 1);
	h = item;
	if (strncmp(h, "tcp/", 4) == 0)
		h += 4;
	if (strncmp(item, "udp/", 4) == 0)
		r = asprintf(&head, "udp://%s%.*s", strchr(item + 4, ':') == colon ? ":" : "",
			     (int)(colon - item - 4), item + 4);
	else if (strncmp(h, "unix://", 7) == 0)
		r = asprintf(&head, "%.*s", (int)(colon - h), h);
	else
		r = asprintf(&head, "%s%.*s", strchr(h, ':') == colon ? ":" : "", (int)(colon - h),
			     h);
	if (r < 0) {
		head = NULL; /* undefined after a failure */
		return -ENOMEM;
	}
	r = url_parse(head, &u, &url_err);
	if (r == 0 && !u.port && !u.path)
		r = -EINVAL;
	url_done(&u);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return ERRMSG_FAIL(reterr, "item '%s': head '%s': %s", item, head,
				   url_err ?: "no port");
	ret->id = make_id(name, strncmp(h, "unix://", 7) == 0 ? "unix" : head);
	r = asprintf(&ret->tail, ":%lu", port);
	if (r < 0)
		ret->tail = NULL;
	if (!ret->id || !ret->tail) {
		free(ret->id);
		free(ret->tail);
		return -ENOMEM;
	}
	ret->head = TAKE_PTR(head);
	return 0;
}

int publish_label_parse(const char *value, const char *name, struct publish_item **ret,
			size_t *ret_n, char **reterr)
{
	_cleanup_free_ char *copy = strdup(value);
	struct publish_item *items = NULL;
	size_t n = 0;
	char *save = NULL;
	int r = 0;

	if (reterr)
		*reterr = NULL;
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct publish_item *ni;

		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		if (n >= PUBLISH_ITEMS_MAX) {
			r = ERRMSG_FAIL(reterr, "more than %d items", PUBLISH_ITEMS_MAX);
			break;
		}
		ni = realloc(items, (n + 1) * sizeof(*items));
		if (!ni) {
			r = -ENOMEM;
			break;
		}
		items = ni;
		items[n] = (struct publish_item){ 0 };
		r = parse_item(tok, name, &items[n], reterr);
		if (r < 0)
			break;
		n++;
	}
	if (r == 0 && n == 0)
		r = ERRMSG_FAIL(reterr, "no item");
	if (r < 0) {
		publish_items_free(items, n);
		return r;
	}
	*ret = items;
	*ret_n = n;
	return 0;
}
