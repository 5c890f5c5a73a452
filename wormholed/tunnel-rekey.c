/* SPDX-License-Identifier: MIT */
/*
 * tunnel-rekey.c - the rekey that the side with the lower overlay address drives from the 1 s
 * timer, in the order of lib/tunnel/tunnel.h: new inbound SA here, tunnel-rekey step 1 (the peer's
 * new SAs), new outbound SA here, the old inbound SA dropped after TUNNEL_REKEY_GRACE_SEC, then
 * step 2 (the peer drops its old inbound SA). A failure keeps the current keys and retries later.
 */

#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "engine.h"
#include "log.h"
#include "time-util.h"
#include "tunnels-internal.h"

/* ---- rekey (the side with the lower overlay address) ------------------------------------------ */

static bool is_rekeyer(const struct tun *t)
{
	return ntohl(t->h.local_ov.s_addr) < ntohl(t->h.remote_ov.s_addr);
}

static void rekey_fail(struct tun *t, const char *msg)
{
	unsigned retry = t->h.rekey_sec && t->h.rekey_sec < REKEY_RETRY_SEC ? t->h.rekey_sec
									    : REKEY_RETRY_SEC;

	log_warning("tunnel %08x: rekey failed: %s; the current keys stay, trying again in %u s",
		    t->h.reqid, msg, retry);
	t->rk = RK_IDLE;
	t->rk_at = (now_usec() / USEC_PER_SEC) + retry;
}

static void on_rekey2_reply(void *userdata, int r, const char *line, size_t len)
{
	struct tun *t = userdata;

	t->rq = NULL;
	t->rk = RK_IDLE;
	t->rk_at = 0; /* the next rekey when the new SA is due */
}

static void on_rekey1_reply(void *userdata, int r, const char *line, size_t len)
{
	struct tun *t = userdata;
	_cleanup_free_ char *msg = NULL;

	t->rq = NULL;
	r = tun_peer_reply("tunnel-rekey", t->peer_name, r, line, len, NULL, &msg);
	if (r < 0) {
		/* refused: the peer still sends with the old SA, ours is unused. A transport
		 * failure may hide a success: keep the new inbound SA then (it costs nothing) */
		if (r == -EREMOTEIO)
			(void)tunnel_sa_del(T->nl, &t->h, TUNNEL_DIR_IN, t->n_in.spi);
		rekey_fail(t, msg ?: strerror(-r));
		return;
	}
	r = tunnel_sa_add(T->nl, &t->h, TUNNEL_DIR_OUT, &t->n_out);
	if (r < 0)
		log_warning_errno(r, "tunnel %08x: rekey: new outbound SA, keeping the old one",
				  t->h.reqid);
	else {
		(void)tunnel_sa_del(T->nl, &t->h, TUNNEL_DIR_OUT, t->h.out.spi);
		t->h.out = t->n_out;
	}
	t->old_in_spi = t->h.in.spi;
	t->h.in = t->n_in;
	explicit_bzero(&t->n_out, sizeof(t->n_out));
	explicit_bzero(&t->n_in, sizeof(t->n_in));
	t->rekeys++;
	t->rk = RK_GRACE;
	t->rk_at = (now_usec() / USEC_PER_SEC) + TUNNEL_REKEY_GRACE_SEC;
	log_info("tunnel %08x: rekeyed (%u), out SPI %08x, in SPI %08x", t->h.reqid, t->rekeys,
		 t->h.out.spi, t->h.in.spi);
}

static void rekey_start(struct tun *t)
{
	struct tunnel_half theirs;
	int r;

	if (tunnel_sa_random(&t->n_out) < 0 || tunnel_sa_random(&t->n_in) < 0)
		return rekey_fail(t, "no random bytes");
	r = tunnel_sa_add(T->nl, &t->h, TUNNEL_DIR_IN, &t->n_in);
	if (r < 0)
		return rekey_fail(t, strerror(-r));
	tunnel_half_mirror(&t->h, &theirs);
	theirs.in = t->n_out; /* what the peer receives is what we will send */
	theirs.out = t->n_in;
	r = tun_send(t, CTL_OP_TUNNEL_REKEY, 1, &theirs, true, on_rekey1_reply, &t->rq);
	tunnel_half_wipe(&theirs);
	if (r < 0) {
		(void)tunnel_sa_del(T->nl, &t->h, TUNNEL_DIR_IN, t->n_in.spi);
		return rekey_fail(t, strerror(-r));
	}
	t->rk = RK_STEP1;
	t->rk_at = (now_usec() / USEC_PER_SEC) + OP_TIMEOUT_SEC;
}

void tun_rekey_tick(struct tun *t, uint64_t now)
{
	struct tunnel_counters c;
	struct tunnel_half theirs;

	switch (t->rk) {
	case RK_IDLE:
		if (!is_rekeyer(t) || !T->d->peers || now < t->rk_at)
			return;
		if (tunnel_counters(T->nl, &t->h, &c) < 0)
			return;
		log_debug("tunnel %08x: %u outbound SAs, newest added %llu, %llu packets; rekey "
			  "every %u s",
			  t->h.reqid, c.n_out, (unsigned long long)c.out_newest_add_time,
			  (unsigned long long)c.out_newest_packets, t->h.rekey_sec);
		if (!tunnel_rekey_due(&t->h, &c, time(NULL)))
			return;
		rekey_start(t);
		return;
	case RK_STEP1:
	case RK_STEP2:
		if (now >= t->rk_at) {
			t->rq = peer_request_cancel(t->rq);
			if (t->rk == RK_STEP1)
				rekey_fail(t, "the peer did not answer");
			else
				t->rk = RK_IDLE;
		}
		return;
	case RK_GRACE:
		if (now < t->rk_at)
			return;
		(void)tunnel_sa_del(T->nl, &t->h, TUNNEL_DIR_IN, t->old_in_spi);
		t->old_in_spi = 0;
		tunnel_half_mirror(&t->h, &theirs);
		theirs.in = theirs.out = (struct tunnel_sa){ 0 };
		t->rk = RK_IDLE;
		t->rk_at = 0;
		if (tun_send(t, CTL_OP_TUNNEL_REKEY, 2, &theirs, false, on_rekey2_reply, &t->rq) >=
		    0) {
			t->rk = RK_STEP2;
			t->rk_at = now + OP_TIMEOUT_SEC;
		}
		tunnel_half_wipe(&theirs);
		return;
	}
}
