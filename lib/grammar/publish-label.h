/* SPDX-License-Identifier: MIT */
/*
 * publish-label.h - the `wormhole.publish` container label (wormholed --docker-labels)
 *
 * A container started with `--label wormhole.publish=ITEM[,ITEM...]` gets one segment per ITEM
 * while it runs: `id NAME.HEAD url HEAD tail url :PORT docker-ns CONTAINER`. An ITEM is
 *
 *   [tcp/|udp/][HOST:]HOSTPORT:PORT      8080:80, udp/5353:53, 127.0.0.2:8080:80, [::1]:8080:80
 *   unix:///PATH:PORT                    unix:///run/web.sock:80 (the head is a unix socket)
 *
 * This module only splits the label into the words of each segment; the chain-spec parser
 * (spec.c) then validates them like any `wormhole create`.
 */
#pragma once

#include <stddef.h>

struct publish_item {
	char *head; /* a segment URL for `url`: ":8080", "udp://:5353", "unix:///run/web.sock" */
	char *tail; /* ":80" */
	char *id;   /* "web.8080", "dns.udp-5353": NAME "." the head, [A-Za-z0-9._-], <= 64 */
};

/**
 * publish_label_parse() - Split a wormhole.publish label value into items
 * @value:	the label's value (borrowed)
 * @name:	the container's name, for the segment ids (borrowed)
 * @ret, @ret_n: the items on success only; free with publish_items_free()
 * @reterr:	on -EINVAL, a malloc'ed message naming the item (may be NULL)
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int publish_label_parse(const char *value, const char *name, struct publish_item **ret,
			size_t *ret_n, char **reterr);

/**
 * publish_items_free() - Free @n items and the array; NULL is fine
 */
void publish_items_free(struct publish_item *items, size_t n);
