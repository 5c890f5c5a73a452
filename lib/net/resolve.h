/* SPDX-License-Identifier: MIT */
/*
 * resolve.h - host names resolved without blocking the event loop
 *
 * getaddrinfo() may wait seconds for a DNS server; the daemon's one loop must not. A query runs
 * getaddrinfo() on a short-lived thread of its own and reports back on the loop through an
 * eventfd, so the callback runs on the loop like any other event. (libsystemd's sd-resolve does
 * the same but is not a public API in Debian 12's libsystemd.) Numeric addresses need no query:
 * resolve_numeric() answers them at once.
 */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include <systemd/sd-event.h>

#include "sockaddr.h"

struct resolve_query;

/**
 * resolve_fn - the outcome of a query, on the loop
 * @r:		0, -EADDRNOTAVAIL (no such name, or no address), -ENOMEM
 * @sa, @len:	the first address (of the family asked for, or any), valid during the call
 * @error:	on failure, getaddrinfo's text for it (static), or NULL
 */
typedef void (*resolve_fn)(void *userdata, int r, const struct sockaddr *sa, socklen_t len,
			   const char *error);

/**
 * resolve_numeric() - @host as a numeric IPv4/IPv6 address with @port, without any lookup
 * Return: 0 (*ret, *ret_len set) or -EINVAL (not numeric)
 */
int resolve_numeric(const char *host, uint16_t port, union sockaddr_union *ret, socklen_t *ret_len);

/**
 * resolve_start() - Resolve @host for TCP port @port in the background
 * @e:		the loop the callback runs on (borrowed; outlives the query)
 * @cb:		called once, from the loop, unless resolve_cancel() comes first
 * @ret:	the query on success only; it is freed after the callback, or by resolve_cancel()
 *
 * Return: 0, -ENOMEM, or a negative errno from eventfd(), pthread_create() or sd-event
 */
int resolve_start(sd_event *e, const char *host, uint16_t port, resolve_fn cb, void *userdata,
		  struct resolve_query **ret);

/**
 * resolve_cancel() - The callback will not be called; the thread, if still waiting on DNS,
 * finishes on its own and frees what is left. NULL is fine. Return: NULL
 */
struct resolve_query *resolve_cancel(struct resolve_query *q);
