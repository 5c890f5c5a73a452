/* SPDX-License-Identifier: MIT */
/*
 * tunnels-internal.h - what the parts of the daemon's tunnel code share: the registry's entries
 * (struct tun), the waiters and pending deletes, the one registry (T, owned by tunnels.c) and the
 * functions one part calls in another. Nothing outside wormholed/tunnel*.c includes it.
 *
 * The parts: tunnels.c (registry, start/stop, the 1 s timer, discovery, list and the request
 * dispatcher), tunnel-wire.c (a half as it travels, requests to the peer daemon and their
 * replies), tunnel-create.c (the initiator's side and the chain words' provider),
 * tunnel-peer.c (the peer's side: prepare, install, rekey steps; removal), tunnel-rekey.c
 * (the rekey the initiator drives) and tunnel-delete.c (tunnel-delete HOST).
 */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "chains.h"
#include "ctl-proto.h"
#include "errmsg.h"
#include "link-manager.h"
#include "overlay.h"
#include "tunnel.h"
#include "tunnels.h"

#define OP_TIMEOUT_SEC	10 /* a peer's answer to one tunnel request */
#define PREPARED_SEC	30 /* a prepared half waits this long for its install */
#define REKEY_RETRY_SEC 30 /* after a failed rekey */

enum tun_state { TUN_PREPARED, TUN_CREATING, TUN_UP };
enum rk_state { RK_IDLE, RK_STEP1, RK_GRACE, RK_STEP2 };

struct tun {
	struct tun *next;
	struct tunnel_half h;
	enum tun_state state;
	char *peer_name;   /* "host:port" of the peer daemon */
	struct peer *peer; /* a reference, taken when first needed */
	int encap_fd;
	uint64_t deadline; /* PREPARED, CREATING: monotonic seconds */
	struct peer_request *rq;
	struct tunnels_wait *waiters; /* CREATING */
	enum rk_state rk;
	struct tunnel_sa n_out, n_in;
	uint32_t old_in_spi;
	uint64_t rk_at; /* GRACE end, STEP deadline, or the next try after a failure */
	unsigned rekeys;
};

struct tunnels_wait {
	struct tunnels_wait *next;
	struct tun *tun;     /* waiting for its creation */
	struct del_op *del;  /* or for a delete */
	tunnels_reply_fn cb; /* a control client */
	chain_tunnel_fn ccb; /* or a chain word */
	void *userdata;
};

struct del_op {
	struct del_op *next;
	struct peer *peer;
	struct peer_request *rq;
	struct tunnels_wait *w;
	uint64_t deadline;
	char *name;
};

/* the registry: one, made by tunnels_start(), NULL before and after (and when netlink failed) */
struct tunnels {
	struct daemon *d;
	struct tunnel_nl *nl;
	struct overlay_cidr cidr;
	uint16_t port_min, port_max;
	unsigned rekey_sec;
	struct tun *list;
	struct del_op *dels;
	sd_event_source *timer;
};

extern struct tunnels *T;

/* ---- tunnels.c: the registry ------------------------------------------------------------------ */

/* @a as text in @buf; returns @buf */
const char *tun_ip4(struct in_addr a, char buf[static INET_ADDRSTRLEN]);

/* the entry for the peer underlay address @a / for @reqid, or NULL (borrowed) */
struct tun *tun_by_remote(struct in_addr a);
struct tun *tun_by_reqid(uint32_t reqid);

/* a new entry, linked into T->list (owned by the registry), encap_fd unset; NULL: no memory */
struct tun *tun_new(void);

/* take @t out of T->list; it is not freed */
void tun_unlink(struct tun *t);

/* free an unlinked @t: cancels its request, frees its waiters without calling them, wipes its
 * keys, closes its encap socket. NULL is fine */
void tun_free(struct tun *t);

void tun_waiter_free(struct tunnels_wait *w);

/* call @w's callback (a control client's or a chain word's) with @t (borrowed) on success
 * (@r >= 0), else with @r and @error (NULL: strerror(-r)); does not free @w */
void tun_notify(struct tunnels_wait *w, int r, const char *error, const struct tun *t);

/* ---- tunnel-wire.c: between daemons ----------------------------------------------------------- */

/* TUNNEL_KEY_BYTES from 2 * TUNNEL_KEY_BYTES hex digits. Return: 0, -EINVAL */
int tun_unhex_key(const char *s, uint8_t *k);

/* @h as it travels into @t (the caller calls ctl_tunnel_done() on success); @peer: the peer
 * daemon's name or NULL; keys only with @keys (tunnel-install, tunnel-rekey: peer links only).
 * Return: 0, -ENOMEM (nothing left in @t) */
int tun_half_to_ctl(const struct tunnel_half *h, const char *peer, bool keys, struct ctl_tunnel *t);

/* A half from a peer's request; keys when @keys (wiped again on failure).
 * Return: 0, -EINVAL with *reterr */
int tun_ctl_to_half(const struct ctl_tunnel *t, bool keys, struct tunnel_half *h, char **reterr);

/* take a reference on the peer daemon of @t when it has none yet (t->peer_name, or the default
 * peer port of its underlay address). Return: 0, <0 with *reterr (@reterr may be NULL) */
int tun_peer(struct tun *t, char **reterr);

/* Send @op (@step for tunnel-rekey) with the receiver's half @theirs (borrowed; the mirror of
 * ours) to the peer of @t; @cb gets @t. Return: 0 with *ret (may be NULL), <0 */
int tun_send(struct tun *t, enum ctl_op op, unsigned step, const struct tunnel_half *theirs,
	     bool keys, peer_reply_fn cb, struct peer_request **ret);

/* The reply of a peer to @what: 0 if ok (*ret the parsed reply when @ret, the caller releases
 * it), else <0 with *msg (malloc'ed): -EREMOTEIO when the peer refused */
int tun_peer_reply(const char *what, const char *peer, int r, const char *line, size_t len,
		   struct ctl_reply *ret, char **msg);

/* Fire and forget: the peer removes its half of @t (best effort) */
void tun_send_delete(struct tun *t);

/* HOST[:PORT] -> the peer daemon's name (malloc'ed) and its IPv4 address (control path: may
 * block). Return: 0, <0 with *reterr */
int tun_resolve_host(const char *host, char **ret_name, struct in_addr *ret_ip, char **reterr);

/* ---- tunnel-create.c: the initiator ----------------------------------------------------------- */

/* creation of @t failed: tell its waiters, then unlink and free it */
void tun_create_fail(struct tun *t, int r, const char *msg);

/* @t is up: tell its waiters (freed) */
void tun_create_done(struct tun *t);

/* Create the tunnel to @host or reuse it. @w: ownership passes to @t on 1 only.
 * Return: 0 (*ret_t up, borrowed), 1 (@w queued), <0 (*reterr) */
int tun_ensure(const char *host, bool udp, struct tunnels_wait *w, struct tun **ret_t,
	       char **reterr);

/* for chain_tunnel_set_provider() */
extern const struct chain_tunnel_provider tun_chain_provider;

/* ---- tunnel-peer.c: the peer's side ------------------------------------------------------------ */

/* remove @t from the kernel (logged with @why), cancel its waiters, unlink and free it */
void tun_remove(struct tun *t, const char *why);

/* tunnel-prepare, tunnel-install, tunnel-rekey from the peer (@ct borrowed).
 * Return: 0, <0 with *reterr */
int tun_on_prepare(const struct ctl_tunnel *ct, char **reterr);
int tun_on_install(const struct ctl_tunnel *ct, char **reterr);
int tun_on_rekey(const struct ctl_tunnel *ct, uint64_t step, char **reterr);

/* ---- tunnel-rekey.c ------------------------------------------------------------------------------ */

/* the timer's step for an UP tunnel @t at @now (monotonic seconds): start, time out, or end
 * the grace period of a rekey */
void tun_rekey_tick(struct tun *t, uint64_t now);

/* ---- tunnel-delete.c ----------------------------------------------------------------------------- */

/* end @op: its waiter gets @warning (if any) and the final reply; @op is unlinked and freed */
void tun_del_finish(struct del_op *op, const char *warning);

/* tunnel-delete HOST: our half goes now, whatever the peer says. Return: 0 (replied through
 * @cb, with a warning line when the peer cannot be asked), 1 (@cb later, *ret_wait set), <0
 * with *reterr */
int tun_delete_host(const char *host, tunnels_reply_fn cb, void *userdata,
		    struct tunnels_wait **ret_wait, char **reterr);
