/* SPDX-License-Identifier: MIT */
/*
 * tunnel-create.c - the initiator's side of a tunnel (tunnel-create, and the tunnel and
 * udptunnel chain words through the provider at the end): tun_ensure() reuses an existing tunnel
 * or picks the overlay pair, reqid, SPIs, keys and encap port, and sends tunnel-prepare; its reply
 * brings the peer's port and leads to tunnel-install; that reply to the local install. Each
 * failure tells the waiters, removes what was made here and asks the peer to drop its half.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "engine.h"
#include "espinudp.h"
#include "log.h"
#include "time-util.h"
#include "tunnels-internal.h"

/* ---- creation (initiator) -------------------------------------------------------------------- */

void tun_create_fail(struct tun *t, int r, const char *msg)
{
	log_notice("tunnel to '%s': %s", t->peer_name, msg ?: strerror(-r));
	while (t->waiters) {
		struct tunnels_wait *w = t->waiters;

		t->waiters = w->next;
		tun_notify(w, r, msg, t);
		tun_waiter_free(w);
	}
	tun_unlink(t);
	tun_free(t);
}

void tun_create_done(struct tun *t)
{
	char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];

	t->state = TUN_UP;
	log_info("tunnel %08x to '%s' up: %s <-> %s, %s", t->h.reqid, t->peer_name,
		 tun_ip4(t->h.local_ov, b1), tun_ip4(t->h.remote_ov, b2),
		 t->h.encap == TUNNEL_ENCAP_UDP ? "ESP-in-UDP" : "ESP");
	while (t->waiters) {
		struct tunnels_wait *w = t->waiters;

		t->waiters = w->next;
		tun_notify(w, 0, NULL, t);
		tun_waiter_free(w);
	}
}

static void on_install_reply(void *userdata, int r, const char *line, size_t len)
{
	struct tun *t = userdata;
	_cleanup_free_ char *msg = NULL;
	const char *step = NULL;

	t->rq = NULL;
	r = tun_peer_reply("tunnel-install", t->peer_name, r, line, len, NULL, &msg);
	if (r < 0) {
		if (r != -EREMOTEIO)
			tun_send_delete(t); /* it may have got through */
		tun_create_fail(t, r, msg);
		return;
	}
	r = tunnel_install(T->nl, &t->h, &step);
	if (r < 0) {
		tun_send_delete(t);
		(void)errmsg_set(&msg, "tunnel to '%s': installing the local half: %s: %s",
				 t->peer_name, step ?: "?", strerror(-r));
		tun_create_fail(t, r, msg);
		return;
	}
	tun_create_done(t);
}

static void on_prepare_reply(void *userdata, int r, const char *line, size_t len)
{
	struct tun *t = userdata;
	_cleanup_free_ char *msg = NULL;
	struct ctl_reply rep = { 0 };
	struct tunnel_half theirs;

	t->rq = NULL;
	r = tun_peer_reply("tunnel-prepare", t->peer_name, r, line, len, &rep, &msg);
	if (r < 0) {
		if (r != -EREMOTEIO)
			tun_send_delete(t);
		tun_create_fail(t, r, msg);
		return;
	}
	if (t->h.encap == TUNNEL_ENCAP_UDP) {
		if (rep.n_tunnels != 1 || rep.tunnels[0].local_port == 0 ||
		    rep.tunnels[0].local_port > 65535) {
			ctl_reply_done(&rep);
			tun_send_delete(t);
			tun_create_fail(t, -EBADMSG,
					"the peer's tunnel-prepare reply has no encap port");
			return;
		}
		t->h.remote_port = (uint16_t)rep.tunnels[0].local_port;
	}
	ctl_reply_done(&rep);
	tunnel_half_mirror(&t->h, &theirs);
	r = tun_send(t, CTL_OP_TUNNEL_INSTALL, 0, &theirs, true, on_install_reply, &t->rq);
	tunnel_half_wipe(&theirs);
	if (r < 0) {
		tun_send_delete(t);
		tun_create_fail(t, r, NULL);
	}
}

/* the underlay address this host reaches @dst from (no packet is sent) */
static int local_addr_to(struct in_addr dst, struct in_addr *ret)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9), .sin_addr = dst };
	socklen_t len = sizeof(sin);
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return -errno;
	*ret = sin.sin_addr;
	return 0;
}

/* Create the tunnel to @host or reuse it. Return: 0 (*ret_t up), 1 (@w queued), <0 (*reterr) */
int tun_ensure(const char *host, bool udp, struct tunnels_wait *w, struct tun **ret_t,
	       char **reterr)
{
	_cleanup_free_ char *name = NULL;
	_cleanup_free_ struct in_addr *avoid = NULL;
	struct in_addr ip, a, b;
	struct tunnel_half theirs;
	struct tun *t;
	size_t n = 0;
	int r;

	if (!T)
		return ERRMSG_FAIL(reterr, "tunnels are not available in this wormholed");
	r = tun_resolve_host(host, &name, &ip, reterr);
	if (r < 0)
		return r;
	t = tun_by_remote(ip);
	if (t && t->state != TUN_PREPARED) {
		if ((t->h.encap == TUNNEL_ENCAP_UDP) != udp)
			return ERRMSG_FAIL(reterr,
					   "a tunnel to '%s' exists with %s; delete it first "
					   "(tunnel-delete)",
					   host,
					   t->h.encap == TUNNEL_ENCAP_UDP ? "ESP-in-UDP" : "ESP");
		if (t->state == TUN_UP) {
			*ret_t = t;
			return 0;
		}
		w->tun = t;
		w->next = t->waiters;
		t->waiters = w;
		return 1;
	}
	if (t)
		return ERRMSG_RET(reterr, -EBUSY, "'%s' is setting up a tunnel with us right now",
				  host);
	if (!T->d->peers)
		return ERRMSG_FAIL(reterr, "tunnels need the peer link: this wormholed has no peer "
					   "key (make one with `wormhole keygen`, start wormholed "
					   "with -K PATH)");
	t = tun_new();
	if (!t)
		return -ENOMEM;
	t->state = TUN_CREATING;
	t->peer_name = TAKE_PTR(name);
	t->h.remote = ip;
	t->h.rekey_sec = T->rekey_sec;
	t->deadline = (now_usec() / USEC_PER_SEC) + 3 * OP_TIMEOUT_SEC;
	r = local_addr_to(ip, &t->h.local);
	if (r < 0) {
		r = ERRMSG_RET(reterr, r, "no route to '%s': %s", host, strerror(-r));
		goto fail;
	}
	for (struct tun *x = T->list; x; x = x->next)
		n++;
	avoid = calloc(2 * n + 1, sizeof(*avoid));
	if (!avoid) {
		r = -ENOMEM;
		goto fail;
	}
	n = 0;
	for (struct tun *x = T->list; x; x = x->next)
		if (x != t) {
			avoid[n++] = x->h.local_ov;
			avoid[n++] = x->h.remote_ov;
		}
	r = overlay_pick(T->nl, &T->cidr, avoid, n, &a, &b);
	if (r < 0) {
		r = ERRMSG_RET(reterr, r, "no free overlay address pair: %s", strerror(-r));
		goto fail;
	}
	if (ntohl(a.s_addr) > ntohl(b.s_addr)) { /* the initiator takes the lower one */
		struct in_addr x = a;

		a = b;
		b = x;
	}
	t->h.local_ov = a;
	t->h.remote_ov = b;
	r = tunnel_reqid_pick(T->nl, &t->h.reqid);
	if (r >= 0)
		r = tunnel_sa_random(&t->h.out);
	if (r >= 0)
		r = tunnel_sa_random(&t->h.in);
	if (r < 0) {
		r = ERRMSG_RET(reterr, r, "reqid or keys: %s", strerror(-r));
		goto fail;
	}
	if (udp) {
		t->h.encap = TUNNEL_ENCAP_UDP;
		t->encap_fd = espinudp_open(-1, T->port_min, T->port_max, &t->h.local_port);
		if (t->encap_fd < 0) {
			r = ERRMSG_RET(reterr, t->encap_fd, "ESP-in-UDP port from %u-%u: %s",
				       T->port_min, T->port_max, strerror(-t->encap_fd));
			goto fail;
		}
	}
	r = tun_peer(t, reterr);
	if (r < 0)
		goto fail;
	tunnel_half_mirror(&t->h, &theirs);
	theirs.out = theirs.in = (struct tunnel_sa){ 0 };
	r = tun_send(t, CTL_OP_TUNNEL_PREPARE, 0, &theirs, false, on_prepare_reply, &t->rq);
	if (r < 0) {
		r = ERRMSG_RET(reterr, r, "peer '%s': %s", t->peer_name, strerror(-r));
		goto fail;
	}
	w->tun = t;
	w->next = t->waiters;
	t->waiters = w;
	return 1;
fail:
	tun_unlink(t);
	tun_free(t);
	return r;
}

/* ---- the chain words' provider ------------------------------------------------------------------ */

static int chain_ensure(const char *host, bool udp, chain_tunnel_fn cb, void *userdata,
			void **ret_wait, char **ret_remote_ov, char **ret_error)
{
	struct tunnels_wait *w = calloc(1, sizeof(*w));
	struct tun *t = NULL;
	char b[INET_ADDRSTRLEN];
	int r;

	if (!w)
		return -ENOMEM;
	w->ccb = cb;
	w->userdata = userdata;
	r = tun_ensure(host, udp, w, &t, ret_error);
	if (r == 1) {
		*ret_wait = w;
		return 1;
	}
	free(w);
	if (r < 0)
		return r;
	*ret_remote_ov = strdup(tun_ip4(t->h.remote_ov, b));
	return *ret_remote_ov ? 0 : -ENOMEM;
}

static void chain_cancel(void *wait)
{
	tunnels_wait_cancel(wait);
}

const struct chain_tunnel_provider tun_chain_provider = {
	.ensure = chain_ensure,
	.cancel = chain_cancel,
};
