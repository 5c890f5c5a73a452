/* SPDX-License-Identifier: MIT */
/*
 * resolver.h - a host name looked up without blocking the event loop
 *
 * getaddrinfo() may wait for DNS for many seconds; the daemon's one loop must never. Each lookup
 * runs getaddrinfo() on a thread of its own (lookups are rare: a `remote NAME` at create time)
 * and hands the first address back on the loop, through an eventfd. Cancelling is immediate for
 * the caller: the callback is never called after resolve_cancel(); a thread still inside
 * getaddrinfo() frees the request itself when it returns.
 */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include <systemd/sd-event.h>

struct resolve;

/**
 * resolve_fn - the outcome of resolve_start()
 * @r:		0, or -EADDRNOTAVAIL (the name did not resolve), -ENOMEM
 * @sa:		on success, the first address (with @port); borrowed for the call
 * @error:	on failure, gai_strerror()'s text ("Name or service not known"); borrowed
 */
typedef void (*resolve_fn)(void *userdata, int r, const struct sockaddr *sa, socklen_t salen,
			   const char *error);

/**
 * resolve_start() - Look up @host (a TCP service on @port) on a thread; @cb runs on @e's loop
 * @ret:	the request, until @cb ran or resolve_cancel()
 * Return: 0, or a negative errno (no thread, no eventfd): @cb will not be called then
 */
int resolve_start(sd_event *e, const char *host, uint16_t port, resolve_fn cb, void *userdata,
		  struct resolve **ret);

/**
 * resolve_cancel() - Drop a request whose callback has not run (NULL is fine). Return: NULL
 */
struct resolve *resolve_cancel(struct resolve *rq);
