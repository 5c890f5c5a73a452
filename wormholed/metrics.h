/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - wormholed --metrics ADDR:PORT: Prometheus text format over HTTP
 */
#pragma once

struct daemon;
struct metrics;

/**
 * metrics_new() - Serve GET /metrics on @addr, driven by @d's event loop
 * @addr:	"PORT", "HOST:PORT" or "[V6]:PORT" (numeric; a bare port means 127.0.0.1)
 * @ret:	on success only; release with metrics_free()
 *
 * Return: 0, -EINVAL (a bad address), -EADDRINUSE, -ENOMEM, -errno
 */
int metrics_new(struct daemon *d, const char *addr, struct metrics **ret);

/**
 * metrics_free() - Close the listener and every scrape in progress. NULL is fine. Return: NULL
 */
struct metrics *metrics_free(struct metrics *m);

/**
 * metrics_render() - The exposition text for @d's segments (for the server, and tests)
 * @ret:	malloc'ed text on success only
 * Return: 0, -ENOMEM
 */
int metrics_render(struct daemon *d, char **ret, size_t *ret_len);
