/* SPDX-License-Identifier: MIT */
/*
 * tunnel-wire.c - a tunnel half as it travels between two wormholed: its conversion to and from
 * the control protocol's struct ctl_tunnel (keys only on peer links, checked on the way in), the
 * peer daemon of a tunnel, sending it a request and reading its reply, the best-effort
 * tunnel-delete of the peer's half, and resolving the HOST[:PORT] a user names.
 */

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "engine.h"
#include "log.h"
#include "tunnels-internal.h"
#include "url.h"

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

int tun_unhex_key(const char *s, uint8_t *k)
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

	*ret = strdup(tun_ip4(a, b));
	return *ret ? 0 : -ENOMEM;
}

/* @h as it travels; keys only with @keys (tunnel-install, tunnel-rekey: peer links only) */
int tun_half_to_ctl(const struct tunnel_half *h, const char *peer, bool keys, struct ctl_tunnel *t)
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
int tun_ctl_to_half(const struct ctl_tunnel *t, bool keys, struct tunnel_half *h, char **reterr)
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
		if (tun_unhex_key(t->out_key, h->out.key) < 0 ||
		    tun_unhex_key(t->in_key, h->in.key) < 0) {
			tunnel_half_wipe(h);
			return ERRMSG_FAIL(reterr, "tunnel: keys must be %d hex digits",
					   2 * TUNNEL_KEY_BYTES);
		}
	}
	return 0;
}

int tun_peer(struct tun *t, char **reterr)
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
	    asprintf(&t->peer_name, "%s:%d", tun_ip4(t->h.remote, b), PEER_DEFAULT_PORT) < 0) {
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
int tun_send(struct tun *t, enum ctl_op op, unsigned step, const struct tunnel_half *theirs,
	     bool keys, peer_reply_fn cb, struct peer_request **ret)
{
	_cleanup_free_ char *line = NULL;
	struct ctl_tunnel ct;
	int r;

	r = tun_peer(t, NULL);
	if (r < 0)
		return r;
	r = tun_half_to_ctl(theirs, NULL, keys, &ct);
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
int tun_peer_reply(const char *what, const char *peer, int r, const char *line, size_t len,
		   struct ctl_reply *ret, char **msg)
{
	_cleanup_free_ char *err = NULL;
	struct ctl_reply rep = { 0 };

	if (r >= 0)
		r = ctl_reply_parse(line, len, &rep, &err);
	if (r < 0)
		return ERRMSG_RET(msg, r, "peer '%s': %s: %s%s", peer, what, err ?: strerror(-r),
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
void tun_send_delete(struct tun *t)
{
	struct tunnel_half theirs;

	tunnel_half_mirror(&t->h, &theirs);
	theirs.out = theirs.in = (struct tunnel_sa){ 0 };
	if (tun_send(t, CTL_OP_TUNNEL_DELETE, 0, &theirs, false, on_ignore_reply, NULL) < 0)
		log_warning("tunnel %08x: cannot ask '%s' to remove its half, ignoring", t->h.reqid,
			    t->peer_name);
	tunnel_half_wipe(&theirs);
}

/* HOST[:PORT] -> the peer daemon's name and its IPv4 address (control path: may block) */
int tun_resolve_host(const char *host, char **ret_name, struct in_addr *ret_ip, char **reterr)
{
	_cleanup_free_ char *err = NULL;
	struct peer_addr pa = { 0 };
	struct addrinfo *ai = NULL, hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	const char *h;
	int r;

	r = peer_addr_parse(host, false, &pa, &err);
	if (r < 0)
		return ERRMSG_RET(reterr, r, "'%s': %s", host, err ?: strerror(-r));
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
