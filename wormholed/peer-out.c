/* SPDX-License-Identifier: MIT */
/*
 * peer-out.c - links dialed from here: `--link HOST`, `wormhole link HOST` / `unlink HOST`, and
 * the links labels.c keeps for containers published on a peer (peer_server_label_link())
 *
 * The peer is held, so its link is kept up and re-dialed with backoff; each time it comes up we
 * send "hello" with our name (--name, default the short host name) and a random instance id of
 * this run, and the far side serves `remote NAME` through that link (lib/peer/link-manager.h,
 * peer_manager_name_link()). A refused name is logged and asked again every HELLO_RETRY_USEC. A
 * link kept only for published containers lingers LINGER_USEC after the last one went, so the
 * peer's delete of the part it made here can still come back over it. A host name is looked up
 * off the loop (lib/net/resolver.h), again every RESOLVE_RETRY_USEC until it resolves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "ctl-proto.h"
#include "engine.h"
#include "errmsg.h"
#include "link-manager.h"
#include "log.h"
#include "peer-internal.h"
#include "peer.h"
#include "resolver.h"
#include "url.h"

#define HELLO_RETRY_USEC (5ULL * 1000000ULL)
/* after the last published container went: long enough for the peer's delete of the part it
 * made here to come back over the link, which would otherwise end with our last reference */
#define LINGER_USEC	   (2ULL * 1000000ULL)
#define RESOLVE_RETRY_USEC (5ULL * 1000000ULL) /* a --link host name that did not resolve */

static int on_hello_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct link_out *lo = userdata;

	if (peer_link_up(lo->peer) && !lo->named)
		peer_out_hello(lo);
	return 0;
}

static void on_hello_reply(void *userdata, int r, const char *line, size_t len)
{
	struct link_out *lo = userdata;
	_cleanup_free_ char *err = NULL;
	struct ctl_reply rep = { 0 };

	lo->rq = NULL;
	if (r >= 0)
		r = ctl_reply_parse(line, len, &rep, &err);
	if (r >= 0 && rep.ok) {
		lo->named = true;
		log_info("link to %s: known there as '%s'", lo->host, lo->ps->name);
		if (lo->ps->named_fn)
			lo->ps->named_fn(lo->peer, lo->ps->named_userdata);
	} else {
		log_error("link to %s: the name '%s' was refused: %s; asking again in %llu s",
			  lo->host, lo->ps->name,
			  r < 0 ? (err ?: strerror(-r)) : (rep.error ?: "refused"),
			  HELLO_RETRY_USEC / 1000000);
		if (!lo->retry)
			(void)sd_event_add_time_relative(lo->ps->d->event, &lo->retry,
							 CLOCK_MONOTONIC, HELLO_RETRY_USEC, 100000,
							 on_hello_retry, lo);
		else {
			(void)sd_event_source_set_time_relative(lo->retry, HELLO_RETRY_USEC);
			(void)sd_event_source_set_enabled(lo->retry, SD_EVENT_ONESHOT);
		}
	}
	ctl_reply_done(&rep);
}

void peer_out_hello(struct link_out *lo)
{
	_cleanup_free_ char *line = NULL;
	int r;

	lo->rq = peer_request_cancel(lo->rq);
	lo->named = false;
	r = ctl_request_format(&(struct ctl_request){ .op = CTL_OP_HELLO,
						      .name = lo->ps->name,
						      .instance = lo->ps->instance },
			       &line);
	if (r >= 0)
		r = peer_request(lo->peer, line, on_hello_reply, lo, &lo->rq);
	if (r < 0)
		log_warning_errno(r, "link to %s: cannot send our name, ignoring", lo->host);
}

struct link_out *peer_out_free(struct link_out *lo)
{
	if (!lo)
		return NULL;
	lo->rq = peer_request_cancel(lo->rq);
	lo->retry = sd_event_source_disable_unref(lo->retry);
	lo->linger = sd_event_source_disable_unref(lo->linger);
	lo->res = resolve_cancel(lo->res);
	lo->resolve_retry = sd_event_source_disable_unref(lo->resolve_retry);
	free(lo->rhost);
	if (lo->peer)
		peer_hold(lo->peer, false);
	peer_unref(lo->peer);
	free(lo->host);
	free(lo);
	return NULL;
}

/* @lo has its peer: keep its link up (dialed now, re-dialed with backoff); our name is said on
 * it now if it is up already, else by on_peer_up() when it comes up */
static void link_out_hold(struct link_out *lo)
{
	peer_hold(lo->peer, true);
	if (peer_link_up(lo->peer))
		peer_out_hello(lo);
}

static void link_out_resolve(struct link_out *lo);

static int on_resolve_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	link_out_resolve(userdata);
	return 0;
}

static void link_out_resolve_later(struct link_out *lo, const char *why)
{
	log_warning("link to %s: cannot resolve '%s': %s; trying again in %llu s", lo->host,
		    lo->rhost, why, RESOLVE_RETRY_USEC / 1000000);
	if (!lo->resolve_retry) {
		if (sd_event_add_time_relative(lo->ps->d->event, &lo->resolve_retry,
					       CLOCK_MONOTONIC, RESOLVE_RETRY_USEC, 100000,
					       on_resolve_retry, lo) < 0)
			log_error("link to %s: cannot arm the retry timer", lo->host);
		return;
	}
	(void)sd_event_source_set_time_relative(lo->resolve_retry, RESOLVE_RETRY_USEC);
	(void)sd_event_source_set_enabled(lo->resolve_retry, SD_EVENT_ONESHOT);
}

static void on_link_resolved(void *userdata, int r, const struct sockaddr *sa, socklen_t salen,
			     const char *error)
{
	struct link_out *lo = userdata;

	lo->res = NULL;
	if (r >= 0)
		r = peer_manager_get_resolved(lo->ps->d->peers, lo->rhost, lo->rport, sa, salen,
					      &lo->peer);
	if (r < 0) {
		link_out_resolve_later(lo, error ?: strerror(-r));
		return;
	}
	lo->resolve_retry = sd_event_source_disable_unref(lo->resolve_retry);
	log_info("link to %s: '%s' resolved, dialing %s", lo->host, lo->rhost, peer_name(lo->peer));
	link_out_hold(lo);
}

static void link_out_resolve(struct link_out *lo)
{
	int r = resolve_start(lo->ps->d->event, lo->rhost, lo->rport, on_link_resolved, lo,
			      &lo->res);

	if (r < 0)
		link_out_resolve_later(lo, strerror(-r));
}

int peer_server_link(struct peer_server *ps, const char *host, bool on, char **ret_error)
{
	_cleanup_free_ char *err = NULL;
	struct peer_addr pa = { 0 };
	struct link_out *lo, **pp;
	int r;

	*ret_error = NULL;
	r = peer_addr_parse(host, false, &pa, &err);
	if (r < 0)
		return ERRMSG_RET(ret_error, r, "%s", err ?: strerror(-r));
	for (pp = &ps->links_out; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->host, host) == 0 && (on || (*pp)->asked))
			break;
	if (!on) {
		peer_addr_done(&pa);
		if (!*pp)
			return ERRMSG_FAIL(ret_error, "no link to '%s' was asked for", host);
		lo = *pp;
		lo->asked = false;
		if (lo->label_refs > 0) {
			log_info("link to %s: no longer asked for, still kept for published "
				 "containers",
				 lo->host);
			return 0;
		}
		*pp = lo->next;
		log_info("link to %s: no longer kept", lo->host);
		peer_out_free(lo);
		return 0;
	}
	if (*pp) {
		peer_addr_done(&pa);
		(*pp)->asked = true;
		return 0; /* kept already */
	}
	lo = calloc(1, sizeof(*lo));
	if (!lo || !(lo->host = strdup(host))) {
		free(lo);
		peer_addr_done(&pa);
		return -ENOMEM;
	}
	lo->ps = ps;
	lo->asked = true;
	r = peer_manager_get_arg(ps->d->peers, host, false, &lo->peer, &err);
	if (r == -EADDRNOTAVAIL) {
		/* a host name: looked up off the loop, and again until it resolves (a host that
		 * boots before its DNS works still links once it does) */
		lo->rhost = strdup(pa.host && pa.host[0] ? pa.host : "127.0.0.1");
		lo->rport = pa.port ?: PEER_DEFAULT_PORT;
		peer_addr_done(&pa);
		if (!lo->rhost) {
			peer_out_free(lo);
			return -ENOMEM;
		}
		lo->next = ps->links_out;
		ps->links_out = lo;
		log_info("link to %s: kept up from here, as '%s' (looking up '%s')", lo->host,
			 ps->name, lo->rhost);
		link_out_resolve(lo);
		return 0;
	}
	peer_addr_done(&pa);
	if (r < 0) {
		peer_out_free(lo);
		return ERRMSG_RET(ret_error, r, "%s", err ?: strerror(-r));
	}
	lo->next = ps->links_out;
	ps->links_out = lo;
	log_info("link to %s: kept up from here, as '%s'", lo->host, ps->name);
	link_out_hold(lo);
	return 0;
}

static int on_linger_end(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct link_out *lo = userdata;
	struct peer_server *ps = lo->ps;

	if (lo->label_refs > 0 || lo->asked)
		return 0;
	for (struct link_out **pp = &ps->links_out; *pp; pp = &(*pp)->next)
		if (*pp == lo) {
			*pp = lo->next;
			break;
		}
	log_info("link to %s: no longer kept (no container is published there)", lo->host);
	peer_out_free(lo);
	return 0;
}

int peer_server_label_link(struct peer_server *ps, struct peer *p, bool on)
{
	struct link_out *lo;

	for (lo = ps->links_out; lo; lo = lo->next)
		if (lo->peer == p && (on || lo->label_refs > 0))
			break;
	if (!on) {
		if (!lo || --lo->label_refs > 0 || lo->asked)
			return 0;
		if (!lo->linger &&
		    sd_event_add_time_relative(ps->d->event, &lo->linger, CLOCK_MONOTONIC,
					       LINGER_USEC, 100000, on_linger_end, lo) < 0) {
			on_linger_end(NULL, 0, lo);
			return 0;
		}
		(void)sd_event_source_set_time_relative(lo->linger, LINGER_USEC);
		(void)sd_event_source_set_enabled(lo->linger, SD_EVENT_ONESHOT);
		return 0;
	}
	if (lo) {
		lo->label_refs++;
		return lo->named && peer_link_up(p);
	}
	lo = calloc(1, sizeof(*lo));
	if (!lo || !(lo->host = strdup(peer_name(p)))) {
		free(lo);
		return -ENOMEM;
	}
	lo->ps = ps;
	lo->peer = peer_ref(p);
	lo->label_refs = 1;
	lo->next = ps->links_out;
	ps->links_out = lo;
	log_info("link to %s: kept up from here for published containers, as '%s'", lo->host,
		 ps->name);
	link_out_hold(lo);
	return 0;
}

void peer_server_set_named_hook(struct peer_server *ps, void (*fn)(struct peer *p, void *userdata),
				void *userdata)
{
	ps->named_fn = fn;
	ps->named_userdata = userdata;
}

const char *peer_server_name(const struct peer_server *ps)
{
	return ps->name;
}

int peer_server_set_name(struct peer_server *ps, const char *name)
{
	char host[256];
	char *n;

	if (!name) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "wormhole");
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, ".")] = '\0'; /* the short name */
		/* a host name that is no valid peer name ("(none)" in an initramfs, "localhost"
		 * is fine) must not stop the daemon: the default is only a default */
		if (!peer_name_valid(host)) {
			log_notice("host name '%s' is not usable as a peer name, using 'wormhole' "
				   "(set one with --name)",
				   host);
			snprintf(host, sizeof(host), "wormhole");
		}
		name = host;
	}
	if (!peer_name_valid(name))
		return log_error_errno(-EINVAL,
				       "--name '%s': a letter, then letters, digits, '-', '_', "
				       "'.'; at most 63",
				       name);
	n = strdup(name);
	if (!n)
		return -ENOMEM;
	free(ps->name);
	ps->name = n;
	return 0;
}
