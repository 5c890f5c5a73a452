/* SPDX-License-Identifier: MIT */
/*
 * peer.c - the peer server: the peer port, what arrives on peer links, and leases
 *
 * Streams arriving on any link (lib/peer/link-manager.h) are dispatched by path: "/ctl" goes to
 * the control server (the same JSON requests as the control socket, authenticated by the link's
 * key), "/data/<id>" to segment <id>'s peer-link head (lib/engine/head-peer.c); anything else is
 * refused. A segment created over a link gets a lease tied to that link: while the link lives
 * the lease does not run; once it ends, the segment (and the containers it started) is removed
 * after the lease time unless its creator renews it from a new link. Failed links are logged
 * once each, with the peer's address.
 *
 * Links dialed from here, and our name on them: peer-out.c.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "chains.h"
#include "cleanup.h"
#include "control.h"
#include "ctl-proto.h"
#include "errmsg.h"
#include "h2-link.h"
#include "head.h"
#include "key-rules.h"
#include "link-manager.h"
#include "log.h"
#include "peer-internal.h"
#include "peer-key.h"
#include "peer.h"
#include "segment.h"
#include "sockaddr.h"
#include "spec.h"
#include "stream.h"
#include "time-util.h"
#include "url.h"

/* "198.51.100.7:41234" or "[2001:db8::7]:41234", numeric only */
static int parse_client(const char *text, union sockaddr_union *ret, socklen_t *ret_len)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	char host[64];
	const char *colon = strrchr(text, ':');
	size_t hl;

	if (!colon)
		return -EINVAL;
	hl = (size_t)(colon - text);
	if (text[0] == '[') {
		if (hl < 2 || text[hl - 1] != ']')
			return -EINVAL;
		text++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
		return -EINVAL;
	if (ai->ai_addrlen > sizeof(*ret)) {
		freeaddrinfo(ai);
		return -EINVAL;
	}
	memcpy(ret, ai->ai_addr, ai->ai_addrlen);
	*ret_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int on_stream(struct peer_manager *m, struct h2_link *l, const char *path, struct stream *st,
		     void *userdata)
{
	struct peer_server *ps = userdata;
	const struct peer_key *key = NULL;
	struct segment *s;
	int r;

	if (strcmp(path, "/ctl") == 0)
		return ps->ctl ? control_attach_stream(ps->ctl, st, l) : -ECONNREFUSED;
	if (strncmp(path, "/data/", 6) != 0)
		return -ENOENT;
	if (peer_manager_link_key(m, l, &key) && !key) {
		log_notice("peer link from %s: its key was revoked, refusing a stream",
			   h2_link_peer(l));
		return -EACCES;
	}
	{
		/* "/data/<id>?from=ADDR:PORT": the original client came along */
		const char *q = strstr(path, "?from=");
		char id[H2_LINK_PATH_MAX];
		union sockaddr_union csa = { 0 };
		socklen_t clen = 0;

		snprintf(id, sizeof(id), "%.*s",
			 (int)(q ? (size_t)(q - path - 6) : strlen(path + 6)), path + 6);
		if (q && parse_client(q + 6, &csa, &clen) < 0)
			clen = 0;
		s = segment_find(ps->d, id);
		if (!s)
			return -ENOENT;
		r = head_peer_accept(s, st, h2_link_peer(l), clen ? &csa.sa : NULL, clen);
	}
	if (r < 0)
		log_debug("segment '%s': refusing a stream from %s: %s", s->id, h2_link_peer(l),
			  strerror(-r));
	return r;
}

static void on_link_event(struct peer_manager *m, struct h2_link *l, const char *peer, bool dialed,
			  bool up, int error, const char *reason, void *userdata)
{
	if (up) {
		log_info("peer link %s %s up", dialed ? "to" : "from", peer);
		return;
	}
	if (error == -EACCES)
		log_warning("peer link %s %s refused: %s", dialed ? "to" : "from", peer,
			    reason ?: "handshake failed");
	else if (error == -ECONNABORTED)
		log_debug("peer link %s %s closed", dialed ? "to" : "from", peer);
	else if (error == -ESHUTDOWN && !dialed) /* a CLI or a peer done with its link */
		log_info("peer link from %s closed by the peer", peer);
	else
		log_notice("peer link %s %s down: %s", dialed ? "to" : "from", peer,
			   reason ?: strerror(-error));
}

static void on_peer_up(struct peer_manager *m, struct peer *p, void *userdata)
{
	struct peer_server *ps = userdata;

	for (struct link_out *lo = ps->links_out; lo; lo = lo->next)
		if (lo->peer == p)
			peer_out_hello(lo);
	chain_remote_peer_up(p);
	/* a daemon that dials us came back: it knows where we are, no name to say */
	if (peer_is_named(p) && ps->named_fn)
		ps->named_fn(p, ps->named_userdata);
}

static void on_link_gone(struct peer_manager *m, struct h2_link *l, void *userdata)
{
	struct peer_server *ps = userdata;

	if (ps->ctl)
		control_forget_origin(ps->ctl, l);
	for (struct lease *x = ps->leases; x; x = x->next)
		if (x->origin == l) {
			x->origin = NULL;
			x->expires = now_usec() + ps->lease_usec;
			log_notice("segment '%s': its creator's link ended; removed in %llu s "
				   "unless renewed",
				   x->id, (unsigned long long)(ps->lease_usec / 1000000));
		}
}

int peer_server_set_key_dir(struct peer_server *ps, const struct peer_key *key, const char *dir)
{
	int r = peer_manager_set_key_dir(ps->d->peers, key, dir);

	if (r < 0)
		return log_error_errno(r, "cannot set up the key directory");
	if (dir && access(dir, F_OK) == 0)
		log_info("peer keys: '%s', and those in %s/ (%zu now)", peer_key_id(key), dir,
			 peer_manager_key_count(ps->d->peers) - 1);
	return 0;
}

/* ---- for the control server ---------------------------------------------------------------- */

static int x_hello(void *origin, const char *name, const char *instance, char **ret_error,
		   void *userdata)
{
	struct peer_server *ps = userdata;
	int r;

	r = peer_manager_name_link(ps->d->peers, origin, name, instance, ret_error);
	if (r < 0)
		log_warning("peer link from %s: refusing the name '%s': %s", h2_link_peer(origin),
			    name, *ret_error ?: strerror(-r));
	else
		log_info("peer link from %s: the daemon there is '%s'", h2_link_peer(origin), name);
	return r;
}

static int x_link(const char *host, bool on, char **ret_error, void *userdata)
{
	return peer_server_link(userdata, host, on, ret_error);
}

struct links_emit {
	void (*emit)(const struct ctl_link_info *i, void *ctx);
	void *ctx;
	struct peer_manager *m;
};

static void on_link_info(const struct peer_link_info *i, void *userdata)
{
	struct links_emit *le = userdata;
	char nm[300], addr[300], dir[8], state[16], key[80] = "";
	const char *kid = i->link ? peer_manager_link_key(le->m, i->link, NULL) : NULL;

	snprintf(key, sizeof(key), "%s", kid ?: "");
	snprintf(nm, sizeof(nm), "%s", i->name);
	snprintf(addr, sizeof(addr), "%s", i->address);
	snprintf(dir, sizeof(dir), "%s", i->direction);
	snprintf(state, sizeof(state), "%s", i->state);
	le->emit(&(struct ctl_link_info){ .name = nm,
					  .address = addr,
					  .direction = dir,
					  .state = state,
					  .key = key,
					  .age_sec = i->age_usec / 1000000,
					  .streams = i->streams,
					  .bytes_in = i->bytes_in,
					  .bytes_out = i->bytes_out },
		 le->ctx);
}

static void x_links(void (*emit)(const struct ctl_link_info *i, void *ctx), void *ctx,
		    void *userdata)
{
	struct peer_server *ps = userdata;
	struct links_emit le = { emit, ctx, ps->d->peers };

	peer_manager_links(ps->d->peers, on_link_info, &le);
}

struct self_ctx {
	struct peer_manager *m;
	const char *key_id;
};

/* remote=self: @host is a daemon linked to us with the same key as the requester */
static bool remote_is_self(const char *host, void *userdata)
{
	struct self_ctx *sc = userdata;
	struct h2_link *l = peer_manager_named_link(sc->m, host);
	const char *id = l ? peer_manager_link_key(sc->m, l, NULL) : NULL;

	return id && strcmp(id, sc->key_id) == 0;
}

static uint16_t segment_port(struct daemon *d, const char *id)
{
	struct segment *s = id ? segment_find(d, id) : NULL;

	return s ? s->head.port : 0;
}

static int x_authorize(void *origin, const struct ctl_request *req, char **ret_error,
		       void *userdata)
{
	struct peer_server *ps = userdata;
	_cleanup_(key_rules_freep) struct key_rules *kr = NULL;
	_cleanup_(spec_freep) struct spec *sp = NULL;
	_cleanup_free_ char *err = NULL;
	const struct peer_key *key = NULL;
	const char *id = peer_manager_link_key(ps->d->peers, origin, &key);
	const char *op = ctl_op_name(req->op);
	const char *from = h2_link_peer(origin);
	int r;

	if (!id)
		return 0; /* a link we dialed: the daemon we chose to trust */
	if (!key) {
		log_notice("key '%s' from %s: %s refused: the key was revoked", id, from, op);
		(void)errmsg_set(ret_error, "key '%s' was revoked", id);
		return -EPERM;
	}
	r = key_rules_parse(key->allow, &kr, &err);
	if (r < 0) { /* a key file whose rules we cannot read allows nothing */
		log_warning("key '%s': bad rules, refusing its requests: %s", id, err ?: "");
		(void)errmsg_set(ret_error, "key '%s' has rules this daemon cannot read", id);
		return -EPERM;
	}
	if (req->op == CTL_OP_CREATE) {
		struct self_ctx sc = { ps->d->peers, id };

		r = spec_parse(req->words, &sp, &err);
		if (r < 0)
			return 0; /* the handler says what is wrong with it */
		r = key_rules_check_create(kr, sp, req->peer_head != NULL, remote_is_self, &sc,
					   ret_error);
	} else
		r = key_rules_check_op(kr, op,
				       req->op == CTL_OP_DELETE ? segment_port(ps->d, req->id) : 0,
				       req->name, ret_error);
	if (r < 0) {
		log_notice("key '%s' from %s: %s refused: %s", id, from, op,
			   *ret_error ?: strerror(-r));
		{
			_cleanup_free_ char *why = TAKE_PTR(*ret_error);

			(void)errmsg_set(ret_error, "key '%s': %s", id, why ?: strerror(-r));
		}
		return r;
	}
	if (req->op == CTL_OP_CREATE || req->op == CTL_OP_DELETE || req->op == CTL_OP_HELLO ||
	    req->op == CTL_OP_LINK || req->op == CTL_OP_UNLINK)
		log_info("key '%s' from %s: %s%s%s", id, from, op, req->id ? " " : "",
			 req->id ?: "");
	else
		log_debug("key '%s' from %s: %s", id, from, op);
	return 0;
}

static const struct control_peer_extras extras = {
	.hello = x_hello,
	.link = x_link,
	.links = x_links,
	.authorize = x_authorize,
};

static const struct peer_manager_ops manager_ops = {
	.stream = on_stream,
	.link_event = on_link_event,
	.peer_up = on_peer_up,
	.link_gone = on_link_gone,
};

static struct lease *lease_find(struct peer_server *ps, const char *id)
{
	for (struct lease *x = ps->leases; x; x = x->next)
		if (strcmp(x->id, id) == 0)
			return x;
	return NULL;
}

/* A segment made over a link: a peer's part (its head is the link), or one a daemon that named
 * itself asked for (a container it publishes here, labels.c) is leased to that daemon; one a
 * CLI made over a link (`wormhole -H tcp://`) is the same as one made here, and stays. */
static void on_created(struct segment *s, void *origin, void *userdata)
{
	struct peer_server *ps = userdata;
	struct lease *x = lease_find(ps, s->id);

	if (s->head_ops != &head_peer_ops && !peer_manager_link_claimed(ps->d->peers, origin))
		return;
	if (!x) {
		x = calloc(1, sizeof(*x));
		if (!x)
			return;
		x->id = strdup(s->id);
		if (!x->id) {
			free(x);
			return;
		}
		x->next = ps->leases;
		ps->leases = x;
	}
	x->origin = origin;
	x->expires = 0;
}

static int on_renew(struct segment *s, void *origin, void *userdata)
{
	struct peer_server *ps = userdata;
	struct lease *x = lease_find(ps, s->id);

	if (!x)
		return -ENOENT;
	if (!x->origin)
		log_info("segment '%s': lease renewed by %s", s->id,
			 h2_link_peer((struct h2_link *)origin));
	x->origin = origin;
	x->expires = 0;
	return 0;
}

bool peer_server_leased(const char *id, void *userdata)
{
	return lease_find(userdata, id) != NULL;
}

void peer_server_restore_lease(const char *id, void *userdata)
{
	struct peer_server *ps = userdata;
	struct lease *x = lease_find(ps, id);

	if (!x) {
		x = calloc(1, sizeof(*x));
		if (!x || !(x->id = strdup(id))) {
			free(x);
			return;
		}
		x->next = ps->leases;
		ps->leases = x;
	}
	x->origin = NULL;
	x->expires = now_usec() + ps->lease_usec;
	log_info("segment '%s': restored with its lease; removed in %llu s unless its creator "
		 "renews it",
		 id, (unsigned long long)(ps->lease_usec / 1000000));
}

static struct peer_manager *the_manager; /* for origin_name(), which gets no userdata */

static const char *origin_name(void *origin)
{
	const char *n = the_manager ? peer_manager_link_name(the_manager, origin) : NULL;

	return n ?: h2_link_peer(origin);
}

static int on_lease_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct peer_server *ps = userdata;
	uint64_t now = now_usec();

	for (struct lease **p = &ps->leases; *p;) {
		struct lease *x = *p;
		struct segment *s = segment_find(ps->d, x->id);

		if (s && (x->origin || now < x->expires)) {
			p = &x->next;
			continue;
		}
		if (s) {
			log_notice("segment '%s': lease expired (its creator did not come back), "
				   "removing it",
				   x->id);
			segment_free(s);
		}
		*p = x->next;
		free(x->id);
		free(x);
	}
	/* a key removed from the key directory: the links it opened go too */
	(void)peer_manager_close_revoked(ps->d->peers);
	(void)sd_event_source_set_time_relative(src, 1000000);
	(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	return 0;
}

int peer_server_new(struct daemon *d, struct control *ctl, const struct peer_key *key,
		    char *const *listen, uint64_t lease_usec, struct peer_server **ret)
{
	struct peer_server *ps;
	int r;

	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->d = d;
	ps->ctl = ctl;
	ps->lease_usec = lease_usec;
	r = peer_manager_new(d->event, key, &manager_ops, ps, &d->peers);
	if (r < 0) {
		free(ps);
		return log_error_errno(r, "cannot set up the peer links");
	}
	for (char *const *a = listen; a && *a; a++) {
		_cleanup_free_ char *err = NULL;

		r = peer_manager_listen(d->peers, *a, &err);
		if (r < 0) {
			log_error("peer port: %s", err ?: strerror(-r));
			peer_server_free(ps);
			return r;
		}
		log_info("peer links accepted on %s", *a);
	}
	r = sd_event_add_time_relative(d->event, &ps->timer, CLOCK_MONOTONIC, 1000000, 100000,
				       on_lease_timer, ps);
	if (r < 0) {
		peer_server_free(ps);
		return log_error_errno(r, "cannot arm the lease timer");
	}
	control_set_peer_hooks(ctl, on_created, on_renew, origin_name, ps);
	control_set_peer_extras(ctl, &extras, ps);
	the_manager = d->peers;
	{
		uint8_t rnd[16];

		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(ps->instance + 2 * i, 3, "%02x", rnd[i]);
	}
	r = peer_server_set_name(ps, NULL);
	if (r < 0) {
		peer_server_free(ps);
		return r;
	}
	*ret = ps;
	return 0;
}

void peer_server_detach_control(struct peer_server *ps)
{
	if (!ps || !ps->ctl)
		return;
	control_set_peer_hooks(ps->ctl, NULL, NULL, NULL, NULL);
	control_set_peer_extras(ps->ctl, NULL, NULL);
	ps->ctl = NULL;
}

struct peer_server *peer_server_free(struct peer_server *ps)
{
	if (!ps)
		return NULL;
	peer_server_detach_control(ps);
	while (ps->links_out) {
		struct link_out *lo = ps->links_out;

		ps->links_out = lo->next;
		peer_out_free(lo);
	}
	free(ps->name);
	the_manager = NULL;
	ps->timer = sd_event_source_disable_unref(ps->timer);
	ps->d->peers = peer_manager_free(ps->d->peers);
	while (ps->leases) {
		struct lease *x = ps->leases;

		ps->leases = x->next;
		free(x->id);
		free(x);
	}
	free(ps);
	return NULL;
}
