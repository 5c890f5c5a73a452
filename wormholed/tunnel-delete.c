/* SPDX-License-Identifier: MIT */
/*
 * tunnel-delete.c - tunnel-delete HOST from a user: our half is removed at once, then the peer is
 * asked to remove its own; when it cannot be asked or does not answer in OP_TIMEOUT_SEC, the
 * reply says so in a warning line (the delete itself succeeded here).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "engine.h"
#include "time-util.h"
#include "tunnels-internal.h"
#include "url.h"

/* ---- delete ----------------------------------------------------------------------------------- */

void tun_del_finish(struct del_op *op, const char *warning)
{
	for (struct del_op **p = &T->dels; *p; p = &(*p)->next)
		if (*p == op) {
			*p = op->next;
			break;
		}
	if (op->w) {
		if (warning) {
			char *line = NULL;

			if (asprintf(&line,
				     "warning: %s; its half stays there until it is deleted "
				     "on that host",
				     warning) >= 0) {
				op->w->cb(op->w->userdata, &(struct ctl_reply){ .progress = line },
					  0);
				free(line);
			}
		}
		op->w->cb(op->w->userdata, &(struct ctl_reply){ .ok = true }, 1);
		tun_waiter_free(op->w);
	}
	op->rq = peer_request_cancel(op->rq);
	peer_unref(op->peer);
	free(op->name);
	free(op);
}

static void on_delete_reply(void *userdata, int r, const char *line, size_t len)
{
	struct del_op *op = userdata;
	_cleanup_free_ char *msg = NULL;

	op->rq = NULL;
	r = tun_peer_reply("tunnel-delete", op->name, r, line, len, NULL, &msg);
	tun_del_finish(op, r < 0 ? msg : NULL);
}

/* tunnel-delete HOST: our half goes now, whatever the peer says. Return: 0 (replied through
 * @cb, with a warning line when the peer cannot be asked), 1 (@cb later), <0 with *reterr */
int tun_delete_host(const char *host, tunnels_reply_fn cb, void *userdata,
		    struct tunnels_wait **ret_wait, char **reterr)
{
	_cleanup_free_ char *name = NULL, *line = NULL, *msg = NULL, *err = NULL;
	struct peer_addr pa = { 0 };
	struct ctl_tunnel ct;
	struct tunnel_half theirs;
	struct del_op *op;
	struct in_addr ip;
	struct tun *t;
	int r;

	r = tun_resolve_host(host, &name, &ip, reterr);
	if (r < 0)
		return r;
	t = tun_by_remote(ip);
	if (!t)
		return ERRMSG_FAIL(reterr, "no tunnel to '%s'", host);
	op = calloc(1, sizeof(*op));
	if (op)
		op->w = calloc(1, sizeof(*op->w));
	if (!op || !op->w) {
		free(op);
		return -ENOMEM;
	}
	op->w->cb = cb;
	op->w->userdata = userdata;
	op->w->del = op;
	op->name = TAKE_PTR(name);
	op->next = T->dels;
	T->dels = op;
	op->deadline = (now_usec() / USEC_PER_SEC) + OP_TIMEOUT_SEC;
	tunnel_half_mirror(&t->h, &theirs);
	theirs.in = theirs.out = (struct tunnel_sa){ 0 };
	tun_remove(t, "tunnel-delete");
	r = tun_half_to_ctl(&theirs, NULL, false, &ct);
	tunnel_half_wipe(&theirs);
	if (r >= 0) {
		r = ctl_request_format(
			&(struct ctl_request){ .op = CTL_OP_TUNNEL_DELETE, .tunnel = &ct }, &line);
		ctl_tunnel_done(&ct);
	}
	if (r >= 0 && !T->d->peers)
		r = -ENOKEY;
	if (r >= 0)
		r = peer_addr_parse(op->name, false, &pa, NULL);
	if (r >= 0)
		r = peer_manager_get(T->d->peers, pa.host, pa.port, &op->peer, &err);
	peer_addr_done(&pa);
	if (r >= 0)
		r = peer_request(op->peer, line, on_delete_reply, op, &op->rq);
	if (r < 0) {
		if (asprintf(&msg, "peer '%s': %s", op->name,
			     r == -ENOKEY ? "no peer key here" : strerror(-r)) < 0)
			msg = NULL;
		tun_del_finish(op, msg ?: "the peer cannot be asked");
		return 0;
	}
	*ret_wait = op->w;
	return 1;
}
