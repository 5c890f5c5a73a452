/* SPDX-License-Identifier: MIT */
/*
 * systemd.c - sockets from the service manager, the fd store, and sd_notify (see systemd.h)
 *
 * The fd store keeps a copy of every listener the daemon binds for a segment (FDSTORE=1,
 * FDNAME=seg.<id>; the service needs FileDescriptorStoreMax=). When the daemon restarts, the
 * service manager passes them back with the socket units' descriptors; the restored segment
 * adopts its listener instead of binding again, so the socket never closes and a client that
 * connects during the restart waits in the backlog instead of being refused. Stored listeners
 * whose segment is not restored are removed (FDSTOREREMOVE=1) and closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <systemd/sd-daemon.h>

#include "cleanup.h"
#include "engine.h"
#include "log.h"
#include "segment.h"
#include "systemd.h"

#define STORED_PREFIX "seg."

struct passed_fd {
	char *name;
	int fd;
	bool stored; /* a listener of our previous run */
	bool used;
};

static struct passed_fd *fds;
static size_t n_fds;

#define PEER_FDS_MAX 8
static int peer_fds[PEER_FDS_MAX];
static size_t n_peer;

static bool notify_enabled(void)
{
	return getenv("NOTIFY_SOCKET") != NULL;
}

int sysd_listen_fds(void)
{
	char **names = NULL;
	int n, ctl = -ENOENT;

	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		log_warning_errno(n, "cannot read the sockets systemd passed, ignoring");
		return -ENOENT;
	}
	fds = calloc((size_t)n + 1, sizeof(*fds));
	for (int i = 0; i < n; i++) {
		int cur = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "unknown";

		if (strcmp(name, "control") == 0) {
			if (ctl < 0 && sd_is_socket_unix(cur, SOCK_STREAM, 1, NULL, 0) > 0) {
				ctl = cur;
				continue;
			}
			log_warning("ignoring socket 'control' passed by systemd: not a listening "
				    "unix stream socket, or a second one");
			safe_close(cur);
			continue;
		}
		if (strcmp(name, "peer") == 0) {
			/* the peer port (wormholed.socket); taken by sysd_take_peer_fd() */
			if (n_peer < PEER_FDS_MAX &&
			    sd_is_socket(cur, AF_UNSPEC, SOCK_STREAM, 1) > 0) {
				peer_fds[n_peer++] = cur;
				continue;
			}
			log_warning("ignoring socket 'peer' passed by systemd: not a listening "
				    "stream socket, or more than %d",
				    PEER_FDS_MAX);
			safe_close(cur);
			continue;
		}
		if (!fds || sd_is_socket(cur, AF_UNSPEC, 0, -1) <= 0) {
			log_warning("ignoring descriptor '%s' passed by systemd: not a socket",
				    name);
			safe_close(cur);
			continue;
		}
		fds[n_fds] = (struct passed_fd){
			.name = strdup(name),
			.fd = cur,
			.stored = strncmp(name, STORED_PREFIX, strlen(STORED_PREFIX)) == 0,
		};
		if (!fds[n_fds].name) {
			safe_close(cur);
			continue;
		}
		log_debug("socket '%s' passed by systemd as fd %d", name, cur);
		n_fds++;
	}
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	return ctl;
}

int sysd_take_peer_fd(void)
{
	return n_peer > 0 ? peer_fds[--n_peer] : -ENOENT;
}

bool sysd_has_peer_fd(void)
{
	return n_peer > 0;
}

int sysd_inherited_fd(const char *name)
{
	for (size_t i = 0; i < n_fds; i++)
		if (!fds[i].stored && strcmp(fds[i].name, name) == 0) {
			fds[i].used = true;
			return fds[i].fd;
		}
	return -ENOENT;
}

int sysd_stored_listener(const char *id)
{
	for (size_t i = 0; i < n_fds; i++)
		if (fds[i].stored && fds[i].fd >= 0 &&
		    strcmp(fds[i].name + strlen(STORED_PREFIX), id) == 0) {
			fds[i].used = true;
			return fds[i].fd;
		}
	return -ENOENT;
}

void sysd_store_listener(const char *id, int fd)
{
	_cleanup_free_ char *msg = NULL;
	int r;

	if (!notify_enabled())
		return;
	if (asprintf(&msg, "FDSTORE=1\nFDNAME=" STORED_PREFIX "%s", id) < 0)
		return;
	r = sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
	if (r < 0)
		log_warning_errno(r,
				  "segment '%s': cannot keep its listener in the fd store, "
				  "ignoring",
				  id);
}

void sysd_unstore_listener(const char *id)
{
	_cleanup_free_ char *msg = NULL;

	for (size_t i = 0; i < n_fds; i++)
		if (fds[i].stored && fds[i].fd >= 0 &&
		    strcmp(fds[i].name + strlen(STORED_PREFIX), id) == 0)
			fds[i].fd = safe_close(fds[i].fd);
	if (!notify_enabled())
		return;
	if (asprintf(&msg, "FDSTOREREMOVE=1\nFDNAME=" STORED_PREFIX "%s", id) < 0)
		return;
	(void)sd_notify(0, msg);
}

void sysd_drop_unused_stored(void)
{
	for (size_t i = 0; i < n_fds; i++) {
		if (!fds[i].stored || fds[i].used || fds[i].fd < 0)
			continue;
		log_info("fd store: listener '%s' belongs to no segment now, removing it",
			 fds[i].name);
		sysd_unstore_listener(fds[i].name + strlen(STORED_PREFIX));
	}
}

static void counts(struct daemon *d, unsigned *ret_segs, uint64_t *ret_conns)
{
	unsigned n = 0;
	uint64_t c = 0;

	for (struct segment *s = d->segments; s; s = s->next) {
		n++;
		c += s->conns_active;
	}
	*ret_segs = n;
	*ret_conns = c;
}

void sysd_notify_ready(struct daemon *d, unsigned failed)
{
	_cleanup_free_ char *msg = NULL;
	unsigned n;
	uint64_t c;

	counts(d, &n, &c);
	if ((failed ? asprintf(&msg,
			       "READY=1\nSTATUS=%u segment%s up, %u failed at start (see the log)",
			       n, n == 1 ? "" : "s", failed)
		    : asprintf(&msg, "READY=1\nSTATUS=%u segment%s up", n, n == 1 ? "" : "s")) < 0)
		return;
	(void)sd_notify(0, msg);
}

void sysd_notify_status(struct daemon *d)
{
	_cleanup_free_ char *msg = NULL;
	unsigned n;
	uint64_t c;

	counts(d, &n, &c);
	if (asprintf(&msg, "STATUS=%u segment%s, %llu connection%s", n, n == 1 ? "" : "s",
		     (unsigned long long)c, c == 1 ? "" : "s") < 0)
		return;
	(void)sd_notify(0, msg);
}

void sysd_notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void sysd_free(void)
{
	for (size_t i = 0; i < n_fds; i++) {
		safe_close(fds[i].fd);
		free(fds[i].name);
	}
	free(fds);
	fds = NULL;
	n_fds = 0;
	while (n_peer > 0)
		safe_close(peer_fds[--n_peer]);
}
