/* SPDX-License-Identifier: MIT */
/*
 * tunnels.c - the daemon's IPsec tunnels: one per peer host, made, rekeyed and removed together
 * with the peer's daemon over the TLS peer link
 *
 * The registry holds one entry per peer underlay address, in one of three states: CREATING (we
 * initiated it and wait for the peer), PREPARED (a peer initiated it: our encap port and the
 * addresses are reserved until its tunnel-install comes) and UP (both halves in the kernels).
 *
 * Creation, by the initiator A with peer B (each request carries the receiver's half):
 *   A: overlay pair (A takes the lower address), reqid, fresh random SPI and key per direction,
 *      encap socket from the pool (udptunnel)
 *   A -> B tunnel-prepare (no keys): B checks the underlay address is its own, the overlay pair
 *      is free on B, the reqid unused, opens its encap port; replies with its port
 *   A -> B tunnel-install (keys): B installs its half (tunnel_install() rolls back on failure)
 *   A: installs its own half; on failure A asks B to delete its half
 * Any failure reported to the asker leaves nothing on either host (a timed-out install is
 * followed by a delete to B, in case it got through).
 *
 * Rekey, by the side with the lower overlay address (the initiator; so it is known again after a
 * restart), in the order of lib/tunnel/tunnel.h: A adds its new inbound SA; tunnel-rekey step 1
 * makes B add its new inbound and outbound SAs and drop its old outbound one; A adds its new
 * outbound SA and drops the old one; after TUNNEL_REKEY_GRACE_SEC A drops its old inbound SA and
 * step 2 makes B drop its own. A 1 s timer reads the kernel's counters (tunnel_rekey_due(): the
 * --rekey time, or the sequence number nearing 2^32), drives the steps and their deadlines.
 *
 * At start the kernel's tunnels are found again (tunnel_discover()): complete ones are
 * registered and their ESP-in-UDP socket is reopened on the same port; partial ones cannot be
 * completed without their keys on both sides, so they are removed. A rediscovered tunnel's peer
 * daemon is taken to listen on the default peer port of its underlay address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "chains.h"
#include "cleanup.h"
#include "ctl-proto.h"
#include "engine.h"
#include "errmsg.h"
#include "espinudp.h"
#include "link-manager.h"
#include "log.h"
#include "overlay.h"
#include "tunnel-nl.h"
#include "tunnel.h"
#include "tunnels.h"
#include "url.h"

/* a message that already says why (errmsg_set_errno() would append strerror again), and @r */
#define MSG_ERRNO(reterr, r, ...) ((void)errmsg_set((reterr), __VA_ARGS__), (r))

#define OP_TIMEOUT_SEC		  10 /* a peer's answer to one tunnel request */
#define PREPARED_SEC		  30 /* a prepared half waits this long for its install */
#define REKEY_RETRY_SEC		  30 /* after a failed rekey */

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

static struct tunnels {
	struct daemon *d;
	struct tunnel_nl *nl;
	struct overlay_cidr cidr;
	uint16_t port_min, port_max;
	unsigned rekey_sec;
	struct tun *list;
	struct del_op *dels;
	sd_event_source *timer;
} * T;

static uint64_t mono_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static const char *ip4(struct in_addr a, char buf[static INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* ---- conversions ---------------------------------------------------------------------------- */

static int hex_key(const uint8_t *k, char **ret)
{
	char *s = malloc(2 * TUNNEL_KEY_BYTES + 1);

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < TUNNEL_KEY_BYTES; i++)
		snprintf(s + 2 * i, 3, "%02x", k[i]);
	*ret = s;
	return 0;
}

static int unhex_key(const char *s, uint8_t *k)
{
	static const char hex[] = "0123456789abcdef";

	if (!s || strlen(s) != 2 * TUNNEL_KEY_BYTES)
		return -EINVAL;
	for (size_t i = 0; i < 2 * TUNNEL_KEY_BYTES; i++) {
		const char *p = strchr(hex, s[i] | 0x20);

		if (!p || !*p)
			return -EINVAL;
		if (i % 2 == 0)
			k[i / 2] = (uint8_t)((p - hex) << 4);
		else
			k[i / 2] |= (uint8_t)(p - hex);
	}
	return 0;
}

static int dup_ip(struct in_addr a, char **ret)
{
	char b[INET_ADDRSTRLEN];

	*ret = strdup(ip4(a, b));
	return *ret ? 0 : -ENOMEM;
}

/* @h as it travels; keys only with @keys (tunnel-install, tunnel-rekey: peer links only) */
static int half_to_ctl(const struct tunnel_half *h, const char *peer, bool keys,
		       struct ctl_tunnel *t)
{
	int r = 0;

	*t = (struct ctl_tunnel){
		.reqid = h->reqid,
		.out_spi = h->out.spi,
		.in_spi = h->in.spi,
		.local_port = h->local_port,
		.remote_port = h->remote_port,
		.rekey_sec = h->rekey_sec,
	};
	r = r ?: dup_ip(h->local, &t->local);
	r = r ?: dup_ip(h->remote, &t->remote);
	r = r ?: dup_ip(h->local_ov, &t->local_ov);
	r = r ?: dup_ip(h->remote_ov, &t->remote_ov);
	if (r == 0 && !(t->encap = strdup(h->encap == TUNNEL_ENCAP_UDP ? "espinudp" : "esp")))
		r = -ENOMEM;
	if (r == 0 && peer && !(t->peer = strdup(peer)))
		r = -ENOMEM;
	if (r == 0 && keys) {
		r = hex_key(h->out.key, &t->out_key);
		r = r ?: hex_key(h->in.key, &t->in_key);
	}
	if (r < 0)
		ctl_tunnel_done(t);
	return r;
}

static int parse_ip(const char *s, struct in_addr *a)
{
	return s && inet_pton(AF_INET, s, a) == 1 ? 0 : -EINVAL;
}

/* A half from a peer's request; keys when @keys. Return: 0, -EINVAL with *reterr */
static int ctl_to_half(const struct ctl_tunnel *t, bool keys, struct tunnel_half *h, char **reterr)
{
	*h = (struct tunnel_half){ 0 };
	if (parse_ip(t->local, &h->local) < 0 || parse_ip(t->remote, &h->remote) < 0 ||
	    parse_ip(t->local_ov, &h->local_ov) < 0 || parse_ip(t->remote_ov, &h->remote_ov) < 0)
		return ERRMSG_FAIL(reterr, "tunnel: addresses must be IPv4");
	if ((t->reqid & TUNNEL_REQID_MASK) != TUNNEL_REQID_BASE || t->reqid == TUNNEL_REQID_BASE)
		return ERRMSG_FAIL(reterr, "tunnel: reqid %#llx is not one of wormhole's",
				   (unsigned long long)t->reqid);
	h->reqid = (uint32_t)t->reqid;
	if (!t->encap || (strcmp(t->encap, "esp") != 0 && strcmp(t->encap, "espinudp") != 0))
		return ERRMSG_FAIL(reterr, "tunnel: encap must be esp or espinudp");
	h->encap = strcmp(t->encap, "espinudp") == 0 ? TUNNEL_ENCAP_UDP : TUNNEL_ENCAP_NONE;
	if (t->local_port > 65535 || t->remote_port > 65535 || t->rekey_sec > 86400 * 365)
		return ERRMSG_FAIL(reterr, "tunnel: port or rekey time out of range");
	h->local_port = (uint16_t)t->local_port;
	h->remote_port = (uint16_t)t->remote_port;
	h->rekey_sec = (unsigned)t->rekey_sec;
	if (keys) {
		if (t->out_spi < 256 || t->out_spi > UINT32_MAX || t->in_spi < 256 ||
		    t->in_spi > UINT32_MAX || t->out_spi == t->in_spi)
			return ERRMSG_FAIL(reterr, "tunnel: bad SPIs");
		h->out.spi = (uint32_t)t->out_spi;
		h->in.spi = (uint32_t)t->in_spi;
		if (unhex_key(t->out_key, h->out.key) < 0 || unhex_key(t->in_key, h->in.key) < 0) {
			tunnel_half_wipe(h);
			return ERRMSG_FAIL(reterr, "tunnel: keys must be %d hex digits",
					   2 * TUNNEL_KEY_BYTES);
		}
	}
	return 0;
}

/* ---- the registry --------------------------------------------------------------------------- */

static struct tun *tun_by_remote(struct in_addr a)
{
	for (struct tun *x = T->list; x; x = x->next)
		if (x->h.remote.s_addr == a.s_addr)
			return x;
	return NULL;
}

static struct tun *tun_by_reqid(uint32_t reqid)
{
	for (struct tun *x = T->list; x; x = x->next)
		if (x->h.reqid == reqid)
			return x;
	return NULL;
}

static void tun_unlink(struct tun *t)
{
	for (struct tun **p = &T->list; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			return;
		}
}

static void waiter_free(struct tunnels_wait *w)
{
	free(w);
}

static void notify(struct tunnels_wait *w, int r, const char *error, const struct tun *t)
{
	char b[INET_ADDRSTRLEN];

	if (w->ccb) {
		w->ccb(w->userdata, r, error, r < 0 ? NULL : ip4(t->h.remote_ov, b));
	} else if (w->cb) {
		struct ctl_tunnel ct;
		struct ctl_reply rep = { .ok = r >= 0 };
		char oom[] = "out of memory";

		if (r >= 0 && half_to_ctl(&t->h, t->peer_name, false, &ct) >= 0) {
			rep.tunnels = &ct;
			rep.n_tunnels = 1;
			rep.has_tunnels = true;
		} else if (r >= 0) {
			rep.ok = false;
			rep.error = oom;
		} else {
			rep.error = (char *)(uintptr_t)(error ?: strerror(-r));
		}
		w->cb(w->userdata, &rep, 1);
		if (rep.tunnels)
			ctl_tunnel_done(&ct);
	}
}

static void tun_free(struct tun *t)
{
	if (!t)
		return;
	t->rq = peer_request_cancel(t->rq);
	while (t->waiters) {
		struct tunnels_wait *w = t->waiters;

		t->waiters = w->next;
		waiter_free(w);
	}
	peer_unref(t->peer);
	t->encap_fd = safe_close(t->encap_fd);
	tunnel_half_wipe(&t->h);
	explicit_bzero(&t->n_out, sizeof(t->n_out));
	explicit_bzero(&t->n_in, sizeof(t->n_in));
	free(t->peer_name);
	free(t);
}

static struct tun *tun_new(void)
{
	struct tun *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->encap_fd = -EBADF;
	t->next = T->list;
	T->list = t;
	return t;
}

static int tun_peer(struct tun *t, char **reterr)
{
	_cleanup_free_ char *err = NULL;
	char b[INET_ADDRSTRLEN];
	struct peer_addr pa = { 0 };
	int r;

	if (t->peer)
		return 0;
	if (!T->d->peers)
		return ERRMSG_FAIL(reterr, "this wormholed has no peer key; make one with "
					   "`wormhole keygen` and start wormholed with -K PATH");
	if (!t->peer_name &&
	    asprintf(&t->peer_name, "%s:%d", ip4(t->h.remote, b), PEER_DEFAULT_PORT) < 0) {
		t->peer_name = NULL;
		return -ENOMEM;
	}
	r = peer_addr_parse(t->peer_name, false, &pa, &err);
	if (r >= 0)
		r = peer_manager_get(T->d->peers, pa.host && pa.host[0] ? pa.host : "127.0.0.1",
				     pa.port, &t->peer, &err);
	peer_addr_done(&pa);
	if (r < 0)
		(void)errmsg_set(reterr, "peer '%s': %s", t->peer_name, err ?: strerror(-r));
	return r;
}

/* Send @op with the receiver's half (the mirror of ours) to the peer of @t. */
static int tun_send(struct tun *t, enum ctl_op op, unsigned step, const struct tunnel_half *theirs,
		    bool keys, peer_reply_fn cb, struct peer_request **ret)
{
	_cleanup_free_ char *line = NULL;
	struct ctl_tunnel ct;
	int r;

	r = tun_peer(t, NULL);
	if (r < 0)
		return r;
	r = half_to_ctl(theirs, NULL, keys, &ct);
	if (r < 0)
		return r;
	r = ctl_request_format(&(struct ctl_request){ .op = op, .step = step, .tunnel = &ct },
			       &line);
	ctl_tunnel_done(&ct);
	if (r < 0)
		return r;
	r = peer_request(t->peer, line, cb, t, ret);
	explicit_bzero(line, strlen(line));
	return r;
}

/* The reply of a peer: 0 if ok, else <0 with *msg (malloc'ed) */
static int peer_reply(const char *what, const char *peer, int r, const char *line, size_t len,
		      struct ctl_reply *ret, char **msg)
{
	_cleanup_free_ char *err = NULL;
	struct ctl_reply rep = { 0 };

	if (r >= 0)
		r = ctl_reply_parse(line, len, &rep, &err);
	if (r < 0)
		return MSG_ERRNO(msg, r, "peer '%s': %s: %s%s", peer, what, err ?: strerror(-r),
				 r == -EACCES || r == -ECONNRESET
					 ? " (is wormholed running there, with the same key?)"
					 : "");
	if (!rep.ok) {
		(void)errmsg_set(msg, "peer '%s': %s: %s", peer, what, rep.error ?: "refused");
		ctl_reply_done(&rep);
		return -EREMOTEIO;
	}
	if (ret)
		*ret = rep;
	else
		ctl_reply_done(&rep);
	return 0;
}

static void on_ignore_reply(void *userdata, int r, const char *line, size_t len)
{
}

/* Fire and forget: the peer removes its half of @reqid (best effort). */
static void send_peer_delete(struct tun *t)
{
	struct tunnel_half theirs;

	tunnel_half_mirror(&t->h, &theirs);
	theirs.out = theirs.in = (struct tunnel_sa){ 0 };
	if (tun_send(t, CTL_OP_TUNNEL_DELETE, 0, &theirs, false, on_ignore_reply, NULL) < 0)
		log_warning("tunnel %08x: cannot ask '%s' to remove its half, ignoring", t->h.reqid,
			    t->peer_name);
	tunnel_half_wipe(&theirs);
}

/* ---- creation (initiator) -------------------------------------------------------------------- */

static void create_fail(struct tun *t, int r, const char *msg)
{
	log_notice("tunnel to '%s': %s", t->peer_name, msg ?: strerror(-r));
	while (t->waiters) {
		struct tunnels_wait *w = t->waiters;

		t->waiters = w->next;
		notify(w, r, msg, t);
		waiter_free(w);
	}
	tun_unlink(t);
	tun_free(t);
}

static void create_done(struct tun *t)
{
	char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];

	t->state = TUN_UP;
	log_info("tunnel %08x to '%s' up: %s <-> %s, %s", t->h.reqid, t->peer_name,
		 ip4(t->h.local_ov, b1), ip4(t->h.remote_ov, b2),
		 t->h.encap == TUNNEL_ENCAP_UDP ? "ESP-in-UDP" : "ESP");
	while (t->waiters) {
		struct tunnels_wait *w = t->waiters;

		t->waiters = w->next;
		notify(w, 0, NULL, t);
		waiter_free(w);
	}
}

static void on_install_reply(void *userdata, int r, const char *line, size_t len)
{
	struct tun *t = userdata;
	_cleanup_free_ char *msg = NULL;
	const char *step = NULL;

	t->rq = NULL;
	r = peer_reply("tunnel-install", t->peer_name, r, line, len, NULL, &msg);
	if (r < 0) {
		if (r != -EREMOTEIO)
			send_peer_delete(t); /* it may have got through */
		create_fail(t, r, msg);
		return;
	}
	r = tunnel_install(T->nl, &t->h, &step);
	if (r < 0) {
		send_peer_delete(t);
		(void)errmsg_set(&msg, "tunnel to '%s': installing the local half: %s: %s",
				 t->peer_name, step ?: "?", strerror(-r));
		create_fail(t, r, msg);
		return;
	}
	create_done(t);
}

static void on_prepare_reply(void *userdata, int r, const char *line, size_t len)
{
	struct tun *t = userdata;
	_cleanup_free_ char *msg = NULL;
	struct ctl_reply rep = { 0 };
	struct tunnel_half theirs;

	t->rq = NULL;
	r = peer_reply("tunnel-prepare", t->peer_name, r, line, len, &rep, &msg);
	if (r < 0) {
		if (r != -EREMOTEIO)
			send_peer_delete(t);
		create_fail(t, r, msg);
		return;
	}
	if (t->h.encap == TUNNEL_ENCAP_UDP) {
		if (rep.n_tunnels != 1 || rep.tunnels[0].local_port == 0 ||
		    rep.tunnels[0].local_port > 65535) {
			ctl_reply_done(&rep);
			send_peer_delete(t);
			create_fail(t, -EBADMSG,
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
		send_peer_delete(t);
		create_fail(t, r, NULL);
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

/* HOST[:PORT] -> the peer daemon's name and its IPv4 address (control path: may block) */
static int resolve_host(const char *host, char **ret_name, struct in_addr *ret_ip, char **reterr)
{
	_cleanup_free_ char *err = NULL;
	struct peer_addr pa = { 0 };
	struct addrinfo *ai = NULL, hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	const char *h;
	int r;

	r = peer_addr_parse(host, false, &pa, &err);
	if (r < 0)
		return MSG_ERRNO(reterr, r, "'%s': %s", host, err ?: strerror(-r));
	h = pa.host && pa.host[0] ? pa.host : "127.0.0.1";
	if (inet_pton(AF_INET, h, ret_ip) != 1) {
		r = getaddrinfo(h, NULL, &hints, &ai);
		if (r != 0 || !ai) {
			r = ERRMSG_FAIL(reterr, "'%s': no IPv4 address (tunnels are IPv4 only)", h);
			peer_addr_done(&pa);
			return r;
		}
		*ret_ip = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		freeaddrinfo(ai);
	}
	r = asprintf(ret_name, strchr(h, ':') ? "[%s]:%u" : "%s:%u", h, (unsigned)pa.port);
	peer_addr_done(&pa);
	if (r < 0) {
		*ret_name = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Create the tunnel to @host or reuse it. Return: 0 (*ret_t up), 1 (@w queued), <0 (*reterr) */
static int ensure(const char *host, bool udp, struct tunnels_wait *w, struct tun **ret_t,
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
	r = resolve_host(host, &name, &ip, reterr);
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
		return MSG_ERRNO(reterr, -EBUSY, "'%s' is setting up a tunnel with us right now",
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
	t->deadline = mono_sec() + 3 * OP_TIMEOUT_SEC;
	r = local_addr_to(ip, &t->h.local);
	if (r < 0) {
		r = MSG_ERRNO(reterr, r, "no route to '%s': %s", host, strerror(-r));
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
		r = MSG_ERRNO(reterr, r, "no free overlay address pair: %s", strerror(-r));
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
		r = MSG_ERRNO(reterr, r, "reqid or keys: %s", strerror(-r));
		goto fail;
	}
	if (udp) {
		t->h.encap = TUNNEL_ENCAP_UDP;
		t->encap_fd = espinudp_open(-1, T->port_min, T->port_max, &t->h.local_port);
		if (t->encap_fd < 0) {
			r = MSG_ERRNO(reterr, t->encap_fd, "ESP-in-UDP port from %u-%u: %s",
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
		r = MSG_ERRNO(reterr, r, "peer '%s': %s", t->peer_name, strerror(-r));
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

/* ---- the peer's side ------------------------------------------------------------------------- */

static void tun_remove(struct tun *t, const char *why)
{
	char b[INET_ADDRSTRLEN];
	int r = 0;

	if (t->state == TUN_UP || t->state == TUN_CREATING)
		r = tunnel_remove(T->nl, &t->h);
	if (r < 0)
		log_warning_errno(r, "tunnel %08x to %s: removing it", t->h.reqid,
				  ip4(t->h.remote, b));
	else
		log_info("tunnel %08x to %s removed (%s)", t->h.reqid, ip4(t->h.remote, b), why);
	while (t->waiters) {
		struct tunnels_wait *w = t->waiters;

		t->waiters = w->next;
		notify(w, -ECANCELED, "the tunnel was deleted meanwhile", t);
		waiter_free(w);
	}
	tun_unlink(t);
	tun_free(t);
}

static int on_prepare(const struct ctl_tunnel *ct, char **reterr)
{
	struct tunnel_half h;
	struct tun *t, *old;
	int r;

	r = ctl_to_half(ct, false, &h, reterr);
	if (r < 0)
		return r;
	r = overlay_ifindex_of(T->nl, h.local);
	if (r < 0)
		return ERRMSG_FAIL(reterr, "%s is not an address of this host", ct->local);
	if (!overlay_cidr_contains(&T->cidr, h.local_ov) ||
	    !overlay_cidr_contains(&T->cidr, h.remote_ov))
		return ERRMSG_FAIL(reterr,
				   "overlay addresses %s, %s are outside this host's overlay CIDR "
				   "(--tunnel-cidr must be the same on both hosts)",
				   ct->local_ov, ct->remote_ov);
	old = tun_by_remote(h.remote);
	if (old && old->state == TUN_CREATING)
		return MSG_ERRNO(reterr, -EBUSY, "this host is creating a tunnel to %s right now",
				 ct->remote);
	if (old) /* the initiator has none (it would have reused it): ours is stale */
		tun_remove(old, "replaced by a new tunnel from the same peer");
	for (struct tun *x = T->list; x; x = x->next)
		if (x->h.local_ov.s_addr == h.local_ov.s_addr ||
		    x->h.local_ov.s_addr == h.remote_ov.s_addr ||
		    x->h.remote_ov.s_addr == h.local_ov.s_addr ||
		    x->h.remote_ov.s_addr == h.remote_ov.s_addr)
			return MSG_ERRNO(reterr, -EADDRINUSE,
					 "overlay address %s or %s is in use by another tunnel",
					 ct->local_ov, ct->remote_ov);
	r = overlay_check(T->nl, h.local_ov, h.remote_ov);
	if (r < 0)
		return MSG_ERRNO(reterr, r, "overlay address %s or %s: %s", ct->local_ov,
				 ct->remote_ov, strerror(-r));
	r = tunnel_reqid_in_use(T->nl, h.reqid);
	if (r != 0)
		return MSG_ERRNO(reterr, r > 0 ? -EADDRINUSE : r, "reqid %08x is in use", h.reqid);
	t = tun_new();
	if (!t)
		return -ENOMEM;
	t->h = h;
	t->state = TUN_PREPARED;
	if (asprintf(&t->peer_name, "%s:%d", ct->remote, PEER_DEFAULT_PORT) < 0) {
		t->peer_name = NULL;
		tun_unlink(t);
		tun_free(t);
		return -ENOMEM;
	}
	t->deadline = mono_sec() + PREPARED_SEC;
	if (h.encap == TUNNEL_ENCAP_UDP) {
		t->encap_fd = espinudp_open(-1, T->port_min, T->port_max, &t->h.local_port);
		if (t->encap_fd < 0) {
			r = MSG_ERRNO(reterr, t->encap_fd, "ESP-in-UDP port from %u-%u: %s",
				      T->port_min, T->port_max, strerror(-t->encap_fd));
			tun_unlink(t);
			tun_free(t);
			return r;
		}
	}
	return 0;
}

static int on_install(const struct ctl_tunnel *ct, char **reterr)
{
	struct tunnel_half h;
	const char *step = NULL;
	struct tun *t;
	int r;

	r = ctl_to_half(ct, true, &h, reterr);
	if (r < 0)
		return r;
	t = tun_by_reqid(h.reqid);
	if (!t || t->state != TUN_PREPARED || t->h.remote.s_addr != h.remote.s_addr ||
	    t->h.local_ov.s_addr != h.local_ov.s_addr ||
	    t->h.remote_ov.s_addr != h.remote_ov.s_addr || t->h.encap != h.encap ||
	    (h.encap == TUNNEL_ENCAP_UDP && t->h.local_port != h.local_port)) {
		tunnel_half_wipe(&h);
		return ERRMSG_FAIL(reterr, "tunnel %08x: no prepared half matches", h.reqid);
	}
	t->h.out = h.out;
	t->h.in = h.in;
	t->h.remote_port = h.remote_port;
	t->h.rekey_sec = h.rekey_sec;
	tunnel_half_wipe(&h);
	r = tunnel_install(T->nl, &t->h, &step);
	if (r < 0) {
		(void)MSG_ERRNO(reterr, r, "installing tunnel %08x: %s: %s", t->h.reqid,
				step ?: "?", strerror(-r));
		log_notice("%s", *reterr);
		tun_unlink(t);
		tun_free(t);
		return r;
	}
	create_done(t);
	return 0;
}

static int on_rekey(const struct ctl_tunnel *ct, uint64_t step, char **reterr)
{
	struct tunnel_sa in = { 0 }, out = { 0 };
	struct tun *t = tun_by_reqid((uint32_t)ct->reqid);
	int r;

	if (!t || t->state != TUN_UP)
		return ERRMSG_FAIL(reterr, "no tunnel %08llx here", (unsigned long long)ct->reqid);
	if (step == 2) {
		if (t->old_in_spi)
			(void)tunnel_sa_del(T->nl, &t->h, TUNNEL_DIR_IN, t->old_in_spi);
		t->old_in_spi = 0;
		return 0;
	}
	if (ct->in_spi < 256 || ct->in_spi > UINT32_MAX || ct->out_spi < 256 ||
	    ct->out_spi > UINT32_MAX || unhex_key(ct->in_key, in.key) < 0 ||
	    unhex_key(ct->out_key, out.key) < 0)
		return ERRMSG_FAIL(reterr, "tunnel-rekey: bad SPIs or keys");
	in.spi = (uint32_t)ct->in_spi;
	out.spi = (uint32_t)ct->out_spi;
	r = tunnel_sa_add(T->nl, &t->h, TUNNEL_DIR_IN, &in);
	if (r >= 0) {
		r = tunnel_sa_add(T->nl, &t->h, TUNNEL_DIR_OUT, &out);
		if (r < 0)
			(void)tunnel_sa_del(T->nl, &t->h, TUNNEL_DIR_IN, in.spi);
	}
	if (r < 0) {
		explicit_bzero(&in, sizeof(in));
		explicit_bzero(&out, sizeof(out));
		return MSG_ERRNO(reterr, r, "tunnel-rekey: new SAs: %s", strerror(-r));
	}
	(void)tunnel_sa_del(T->nl, &t->h, TUNNEL_DIR_OUT, t->h.out.spi);
	if (t->old_in_spi) /* a step 2 that never came */
		(void)tunnel_sa_del(T->nl, &t->h, TUNNEL_DIR_IN, t->old_in_spi);
	t->old_in_spi = t->h.in.spi;
	t->h.in = in;
	t->h.out = out;
	t->rekeys++;
	explicit_bzero(&in, sizeof(in));
	explicit_bzero(&out, sizeof(out));
	log_debug("tunnel %08x: rekeyed by the peer", t->h.reqid);
	return 0;
}

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
	t->rk_at = mono_sec() + retry;
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
	r = peer_reply("tunnel-rekey", t->peer_name, r, line, len, NULL, &msg);
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
	t->rk_at = mono_sec() + TUNNEL_REKEY_GRACE_SEC;
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
	t->rk_at = mono_sec() + OP_TIMEOUT_SEC;
}

static void rekey_tick(struct tun *t, uint64_t now)
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

/* ---- delete ----------------------------------------------------------------------------------- */

static void del_finish(struct del_op *op, const char *warning)
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
		waiter_free(op->w);
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
	r = peer_reply("tunnel-delete", op->name, r, line, len, NULL, &msg);
	del_finish(op, r < 0 ? msg : NULL);
}

/* tunnel-delete HOST: our half goes now, whatever the peer says. Return: 0 (replied through
 * @cb, with a warning line when the peer cannot be asked), 1 (@cb later), <0 with *reterr */
static int delete_host(const char *host, tunnels_reply_fn cb, void *userdata,
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

	r = resolve_host(host, &name, &ip, reterr);
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
	op->deadline = mono_sec() + OP_TIMEOUT_SEC;
	tunnel_half_mirror(&t->h, &theirs);
	theirs.in = theirs.out = (struct tunnel_sa){ 0 };
	tun_remove(t, "tunnel-delete");
	r = half_to_ctl(&theirs, NULL, false, &ct);
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
		del_finish(op, msg ?: "the peer cannot be asked");
		return 0;
	}
	*ret_wait = op->w;
	return 1;
}

/* ---- list, requests ----------------------------------------------------------------------------- */

static int list(struct ctl_reply *rep)
{
	size_t n = 0, i = 0;

	for (struct tun *x = T->list; x; x = x->next)
		n++;
	rep->tunnels = calloc(n + 1, sizeof(*rep->tunnels));
	if (!rep->tunnels)
		return -ENOMEM;
	rep->has_tunnels = true;
	for (struct tun *x = T->list; x; x = x->next) {
		struct ctl_tunnel *ct = &rep->tunnels[i];
		struct tunnel_counters c = { 0 };
		int r;

		r = half_to_ctl(&x->h, x->peer_name, false, ct);
		if (r < 0)
			return r;
		rep->n_tunnels = ++i;
		if (x->state == TUN_UP && tunnel_counters(T->nl, &x->h, &c) >= 0) {
			ct->out_bytes = c.out_bytes;
			ct->out_packets = c.out_packets;
			ct->in_bytes = c.in_bytes;
			ct->in_packets = c.in_packets;
		}
		ct->rekeys = x->rekeys;
		ct->state = strdup(x->state == TUN_UP	      ? "up"
				   : x->state == TUN_CREATING ? "creating"
							      : "prepared");
		if (!ct->state)
			return -ENOMEM;
	}
	return 0;
}

static int reply_error(struct ctl_reply *ret, int r, char *msg)
{
	*ret = (struct ctl_reply){ .ok = false };
	if (msg)
		ret->error = msg;
	else if (!(ret->error = strdup(strerror(-r))))
		return -ENOMEM;
	return 0;
}

int tunnels_request(const struct ctl_request *req, int from_peer, struct ctl_reply *ret,
		    tunnels_reply_fn cb, void *userdata, struct tunnels_wait **ret_wait)
{
	char *err = NULL;
	struct tunnels_wait *w;
	struct tun *t = NULL;
	int r;

	if (!T)
		return reply_error(ret, -EOPNOTSUPP,
				   strdup("tunnels are not available in this wormholed (see its "
					  "log: netlink)"));
	switch (req->op) {
	case CTL_OP_TUNNEL_LIST:
		*ret = (struct ctl_reply){ .ok = true };
		r = list(ret);
		if (r < 0)
			ctl_reply_done(ret);
		return r;
	case CTL_OP_TUNNEL_CREATE:
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->cb = cb;
		w->userdata = userdata;
		r = ensure(req->host, req->udp, w, &t, &err);
		if (r == 1) {
			*ret_wait = w;
			return 1;
		}
		free(w);
		if (r < 0)
			return reply_error(ret, r, err);
		*ret = (struct ctl_reply){ .ok = true, .has_tunnels = true, .n_tunnels = 1 };
		ret->tunnels = calloc(1, sizeof(*ret->tunnels));
		if (!ret->tunnels)
			return -ENOMEM;
		r = half_to_ctl(&t->h, t->peer_name, false, ret->tunnels);
		if (r < 0)
			ctl_reply_done(ret);
		return r;
	case CTL_OP_TUNNEL_DELETE:
		if (!req->tunnel) {
			r = delete_host(req->host, cb, userdata, ret_wait, &err);
			if (r < 0)
				return reply_error(ret, r, err);
			return r == 0 ? 2 : 1;
		}
		if (!from_peer)
			return reply_error(ret, -EPERM,
					   strdup("tunnel-delete of a half comes over a peer link "
						  "only"));
		t = tun_by_reqid((uint32_t)req->tunnel->reqid);
		if (t)
			tun_remove(t, "its peer asked");
		*ret = (struct ctl_reply){ .ok = true };
		return 0;
	case CTL_OP_TUNNEL_PREPARE:
	case CTL_OP_TUNNEL_INSTALL:
	case CTL_OP_TUNNEL_REKEY:
		if (!from_peer)
			return reply_error(ret, -EPERM,
					   strdup("this request comes over a peer link only"));
		r = req->op == CTL_OP_TUNNEL_PREPARE   ? on_prepare(req->tunnel, &err)
		    : req->op == CTL_OP_TUNNEL_INSTALL ? on_install(req->tunnel, &err)
						       : on_rekey(req->tunnel, req->step, &err);
		if (r < 0)
			return reply_error(ret, r, err);
		*ret = (struct ctl_reply){ .ok = true };
		if (req->op == CTL_OP_TUNNEL_PREPARE) {
			t = tun_by_reqid((uint32_t)req->tunnel->reqid);
			ret->tunnels = calloc(1, sizeof(*ret->tunnels));
			if (!t || !ret->tunnels)
				return -ENOMEM;
			ret->has_tunnels = true;
			ret->n_tunnels = 1;
			r = half_to_ctl(&t->h, NULL, false, ret->tunnels);
			if (r < 0)
				ctl_reply_done(ret);
			return r;
		}
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

void tunnels_wait_cancel(struct tunnels_wait *w)
{
	if (!w)
		return;
	if (w->del) {
		w->del->w = NULL;
		waiter_free(w);
		return;
	}
	if (w->tun)
		for (struct tunnels_wait **p = &w->tun->waiters; *p; p = &(*p)->next)
			if (*p == w) {
				*p = w->next;
				break;
			}
	waiter_free(w);
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
	r = ensure(host, udp, w, &t, ret_error);
	if (r == 1) {
		*ret_wait = w;
		return 1;
	}
	free(w);
	if (r < 0)
		return r;
	*ret_remote_ov = strdup(ip4(t->h.remote_ov, b));
	return *ret_remote_ov ? 0 : -ENOMEM;
}

static void chain_cancel(void *wait)
{
	tunnels_wait_cancel(wait);
}

static const struct chain_tunnel_provider provider = {
	.ensure = chain_ensure,
	.cancel = chain_cancel,
};

/* ---- start, timer, stop ------------------------------------------------------------------------- */

static int on_tick(sd_event_source *src, uint64_t usec, void *userdata)
{
	uint64_t now = mono_sec();

	for (struct tun *t = T->list, *next; t; t = next) {
		next = t->next;
		if (t->state == TUN_PREPARED && now >= t->deadline)
			tun_remove(t, "its install never came");
		else if (t->state == TUN_CREATING && now >= t->deadline) {
			send_peer_delete(t);
			create_fail(t, -ETIMEDOUT, "the peer did not answer in time");
		} else if (t->state == TUN_UP)
			rekey_tick(t, now);
	}
	for (struct del_op *op = T->dels, *next; op; op = next) {
		next = op->next;
		if (now >= op->deadline)
			del_finish(op, "the peer did not answer");
	}
	(void)sd_event_source_set_time_relative(src, 1000000);
	return sd_event_source_set_enabled(src, SD_EVENT_ON);
}

static void discover(void)
{
	struct tunnel_found *v = NULL;
	char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN], b3[INET_ADDRSTRLEN];
	size_t n = 0;
	int r;

	r = tunnel_discover(T->nl, &v, &n);
	if (r < 0) {
		log_warning_errno(r, "cannot look for tunnels of an earlier run, ignoring");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct tunnel_half *h = &v[i].h;
		struct tun *t;

		if (v[i].has != TUNNEL_HAS_ALL) {
			r = tunnel_remove(T->nl, h);
			log_notice("tunnel %08x to %s: found partial (parts %#x of %#x), %s",
				   h->reqid, ip4(h->remote, b1), v[i].has, TUNNEL_HAS_ALL,
				   r < 0 ? "removing it failed" : "removed");
			tunnel_half_wipe(h);
			continue;
		}
		t = tun_new();
		if (!t) {
			tunnel_half_wipe(h);
			continue;
		}
		t->h = *h;
		tunnel_half_wipe(h);
		t->h.rekey_sec = T->rekey_sec; /* this run's --rekey governs, not the last one's */
		t->state = TUN_UP;
		if (t->h.encap == TUNNEL_ENCAP_UDP) {
			t->encap_fd = espinudp_open_port(-1, t->h.local_port);
			if (t->encap_fd < 0)
				log_warning_errno(
					t->encap_fd,
					"tunnel %08x: cannot reopen ESP-in-UDP port %u; "
					"it receives nothing until deleted and made again",
					t->h.reqid, t->h.local_port);
		}
		log_info("tunnel %08x to %s found again: %s <-> %s, %s", t->h.reqid,
			 ip4(t->h.remote, b1), ip4(t->h.local_ov, b2), ip4(t->h.remote_ov, b3),
			 t->h.encap == TUNNEL_ENCAP_UDP ? "ESP-in-UDP" : "ESP");
	}
	free(v);
}

int tunnels_start(struct daemon *d, const struct tunnels_options *o)
{
	int r;

	T = calloc(1, sizeof(*T));
	if (!T)
		return -ENOMEM;
	T->d = d;
	T->rekey_sec = o->rekey_sec ?: TUNNEL_REKEY_DEFAULT;
	T->port_min = o->port_min ?: TUNNEL_ENCAP_PORT_MIN_DEFAULT;
	T->port_max = o->port_max ?: TUNNEL_ENCAP_PORT_MAX_DEFAULT;
	r = overlay_cidr_parse(o->cidr ?: OVERLAY_CIDR_DEFAULT, &T->cidr);
	if (r < 0) {
		log_error(
			"--tunnel-cidr '%s': expected A.B.C.D/N with 8 <= N <= 30 and no host bits",
			o->cidr);
		goto fail;
	}
	r = tunnel_nl_open(-1, &T->nl);
	if (r < 0) {
		log_warning_errno(r, "cannot open netlink for xfrm: tunnels are not available");
		goto fail;
	}
	discover();
	r = sd_event_add_time_relative(d->event, &T->timer, CLOCK_MONOTONIC, 1000000, 100000,
				       on_tick, NULL);
	if (r < 0) {
		log_error_errno(r, "cannot arm the tunnel timer");
		goto fail;
	}
	chain_tunnel_set_provider(&provider);
	return 0;
fail:
	tunnels_stop();
	return r;
}

void tunnels_stop(void)
{
	if (!T)
		return;
	chain_tunnel_set_provider(NULL);
	while (T->dels)
		del_finish(T->dels, NULL);
	while (T->list) {
		struct tun *t = T->list;

		T->list = t->next;
		if (t->state == TUN_PREPARED) /* nothing in the kernel yet */
			log_debug("tunnel %08x: dropping a prepared half", t->h.reqid);
		else if (t->state == TUN_CREATING) { /* the peer may hold its half: take ours out */
			(void)tunnel_remove(T->nl, &t->h);
			send_peer_delete(t);
		}
		while (t->waiters) {
			struct tunnels_wait *w = t->waiters;

			t->waiters = w->next;
			notify(w, -ECANCELED, "wormholed is stopping", t);
			waiter_free(w);
		}
		tun_free(t);
	}
	T->timer = sd_event_source_disable_unref(T->timer);
	T->nl = tunnel_nl_free(T->nl);
	free(T);
	T = NULL;
}
