/* SPDX-License-Identifier: MIT */
/*
 * link-manager.h - the peer links of one daemon (or one CLI run): one link per peer, on demand
 *
 * A struct peer is a peer daemon by address ("198.18.0.2:9999"); peer_open() gives a stream on
 * its link, dialing the link first when there is none (the stream goes out once the handshake is
 * done, see h2-link.h). A link that fails to come up, or dies, is dialed again only after a
 * backoff (200 ms doubling to 10 s, reset once a link comes up): opens meanwhile fail at once
 * with -EHOSTUNREACH. A peer that is held (peer_hold(): a remote segment lives there) keeps a link
 * up by itself, reconnecting with the same backoff, and peer_up() tells the owner each time it
 * (re)connects, so that it can renew what it keeps on that peer.
 *
 * The manager also accepts links (peer_manager_listen()); streams arriving on any link, dialed
 * or accepted, go to the manager's stream callback with their link as origin.
 *
 * Requests: peer_request() sends one control-protocol line (lib/grammar/ctl-proto.h) on a fresh
 * "/ctl" stream and hands back the reply line. This is the API for any module that needs to
 * ask a peer daemon something (remote segments, tunnel keys, leases):
 *
 *	r = peer_request(p, "{\"op\":\"ping\"}\n", on_reply, userdata, &rq);
 *	...
 *	static void on_reply(void *userdata, int r, const char *line, size_t len)
 *	{ if (r < 0) failed: -EHOSTUNREACH, -ECONNRESET, -ETIMEDOUT, ...; else ctl_reply_parse(line, len, ...) }
 *
 * The callback is called exactly once unless peer_request_cancel() comes first, and never from
 * inside peer_request(). Progress lines ({"progress":...}) go to the progress callback if one is
 * set with peer_request_set_progress().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <systemd/sd-event.h>

#include "h2-link.h"

struct h2_link;
struct peer;
struct peer_key;
struct peer_manager;
struct peer_request;
struct stream;

#define PEER_REQUEST_TIMEOUT_USEC (15ULL * 60 * 1000000ULL) /* a create may pull an image */

struct peer_manager_ops {
	/* a stream for @path arrived on link @l: 0 takes @st, <0 refuses it (may be NULL: all
	 * are refused) */
	int (*stream)(struct peer_manager *m, struct h2_link *l, const char *path,
		      struct stream *st, void *userdata);
	/* a link came up (@up, @error 0) or ended; @dialed: we dialed it; @peer: its address */
	void (*link_event)(struct peer_manager *m, struct h2_link *l, const char *peer, bool dialed,
			   bool up, int error, const char *reason, void *userdata);
	/* a held peer's link came (back) up (may be NULL) */
	void (*peer_up)(struct peer_manager *m, struct peer *p, void *userdata);
	/* an accepted link ended (may be NULL): what came in on it loses its origin */
	void (*link_gone)(struct peer_manager *m, struct h2_link *l, void *userdata);
};

/**
 * peer_manager_new() - A manager of peer links
 * @e:		the event loop (borrowed)
 * @key:	the pre-shared key (copied into the TLS contexts)
 * @ops, @userdata: callbacks (@ops borrowed, static)
 * @ret:	on success only
 *
 * Return: 0, -ENOMEM, -EIO (TLS context)
 */
int peer_manager_new(sd_event *e, const struct peer_key *key, const struct peer_manager_ops *ops,
		     void *userdata, struct peer_manager **ret);

/**
 * peer_manager_free() - Close every link and listener; peers still referenced stay valid but
 * inert (opens fail). NULL is fine. Return: NULL
 */
struct peer_manager *peer_manager_free(struct peer_manager *m);

/**
 * peer_manager_listen() - Accept links on @addr ("0.0.0.0:9999", "[::]:9999", ":9999")
 * @ret_error:	on failure, a malloc'ed message
 * Return: 0, -EINVAL, or a negative errno from socket/bind/listen
 */
int peer_manager_listen(struct peer_manager *m, const char *addr, char **ret_error);

/**
 * peer_manager_close_revoked() - Close every accepted link whose key is gone from the key
 * directory (revoked by removing its file); the open streams on it end. Cheap when nothing
 * changed: the directory is re-read only when its mtime moved.
 * Return: how many links were closed
 */
unsigned peer_manager_close_revoked(struct peer_manager *m);

/**
 * peer_manager_listen_fd() - Accept links on @fd, a listening stream socket (the caller checked:
 * systemd.c with sd_is_socket() for wormholed-peer.socket's, peer_manager_listen() its own)
 * @fd:		owned by the manager on success only (made non-blocking and close-on-exec)
 * @ret_error:	on failure, a malloc'ed message
 * Return: 0, -EINVAL (too many listeners, fcntl failed), -ENOMEM
 */
int peer_manager_listen_fd(struct peer_manager *m, int fd, char **ret_error);

/**
 * peer_manager_get() - The peer at @host:@port (a name is resolved now, blocking: control path
 * only), new or existing. With @port 0, a daemon linked to us under the name @host (see
 * peer_manager_name_link()) comes first.
 * @ret:	a new reference on success only; drop it with peer_unref()
 * @ret_error:	on failure, a malloc'ed message
 * Return: 0, -EADDRNOTAVAIL (cannot resolve), -ENOMEM
 */
int peer_manager_get(struct peer_manager *m, const char *host, uint16_t port, struct peer **ret,
		     char **ret_error);

/**
 * peer_manager_get_arg() - The peer a `remote` argument names, "HOST[:PORT]" (peer_addr_parse():
 * "[v6]:PORT", ":PORT" for this host); without a port, a daemon linked to us under the name HOST
 * comes first, else HOST on the default port
 * @resolve:	false: a HOST that is neither a numeric address, nor known already (a peer of that
 *		exact "host:port", or a linked name), is an error instead of a blocking lookup
 * @ret:	a new reference on success only; drop it with peer_unref()
 * @ret_error:	on failure, a malloc'ed message
 * Return: 0, -EINVAL (bad argument), -EADDRNOTAVAIL (cannot resolve, or not numeric), -ENOMEM
 */
int peer_manager_get_arg(struct peer_manager *m, const char *arg, bool resolve, struct peer **ret,
			 char **ret_error);

/**
 * peer_manager_get_resolved() - The peer "@host:@port" whose address was looked up elsewhere
 * (lib/net/resolver.h, off the loop): an existing peer of that name, else a new one at @sa
 * @ret:	a new reference on success only
 * Return: 0, -EINVAL (@salen too large), -ENOMEM
 */
int peer_manager_get_resolved(struct peer_manager *m, const char *host, uint16_t port,
			      const struct sockaddr *sa, socklen_t salen, struct peer **ret);

/**
 * peer_ref() / peer_unref() - Take / drop a reference (NULL is fine; unref returns NULL)
 */
struct peer *peer_ref(struct peer *p);
struct peer *peer_unref(struct peer *p);

/**
 * peer_name() - Return: "host:port" as given ("[v6]:port" for IPv6), valid while referenced
 */
const char *peer_name(const struct peer *p);

/**
 * peer_hold() - @hold true: keep a link to @p up (reconnecting with backoff) until as many
 * peer_hold(p, false) calls came; the first hold dials at once
 */
void peer_hold(struct peer *p, bool hold);

/**
 * peer_open() - A stream to @p for @path (see h2_link_open())
 * @ret:	the stream on success only, the caller's
 * Return: 0, -EHOSTUNREACH (in backoff after a failure), -ENOMEM, -EINVAL, or a negative
 * errno from socket()/connect()
 */
int peer_open(struct peer *p, const char *path, struct stream **ret);

/**
 * peer_link_up() - Return: whether @p has a link that is up now
 */
bool peer_link_up(const struct peer *p);

/**
 * peer_streams() - Return: the streams open now on @p's link (0 when it is down)
 */
unsigned peer_streams(const struct peer *p);

/**
 * peer_is_named() - Return: whether @p is a daemon known by the name it claimed on a link it
 * dialed to us (never dialed by us; down while it has no link here)
 */
bool peer_is_named(const struct peer *p);

/**
 * peer_name_valid() - Return: whether @name may be claimed (a letter, then letters, digits,
 * '-', '_', '.'; at most 63 bytes)
 */
bool peer_name_valid(const char *name);

/**
 * peer_manager_name_link() - The daemon at the other end of @l (a link it dialed to us) calls
 * itself @name: from now on `remote NAME` reaches it through @l, and held named peers of that
 * name come up (peer_up). A name is one daemon's: a second daemon (another @instance) claiming
 * a name whose link is alive is refused; the same @instance again replaces its stale link.
 * @ret_error:	on failure, a malloc'ed message
 * Return: 0, -EINVAL (not an accepted link, bad name), -EEXIST (taken), -ENOMEM
 */
int peer_manager_name_link(struct peer_manager *m, struct h2_link *l, const char *name,
			   const char *instance, char **ret_error);

/**
 * peer_manager_get_named() - The named peer @name, if a daemon of that name has (or had) a
 * link to us. Return: a new reference, or NULL
 */
struct peer *peer_manager_get_named(struct peer_manager *m, const char *name);

/**
 * peer_manager_link_claimed() - Whether @l is a link a daemon dialed to us and named itself on
 * (hello), as opposed to a CLI's link or one we dialed
 */
bool peer_manager_link_claimed(struct peer_manager *m, const struct h2_link *l);

/**
 * peer_manager_wait_named() - As peer_manager_get_named(), but a name no daemon has linked yet
 * gets a peer without a link, which takes the link of the first daemon that says hello with that
 * name (a held peer then reports peer_up). For a restore: a gateway that restarts knows its
 * segments before the daemons behind NAT have dialed in again.
 * Return: a new reference, or NULL (@name is not a valid peer name, or no memory)
 */
struct peer *peer_manager_wait_named(struct peer_manager *m, const char *name);

/**
 * peer_manager_link_name() - Return: the name of the peer at the other end of @l (claimed, or
 * the address we dialed), or NULL (borrowed, valid while the link lives)
 */
const char *peer_manager_link_name(struct peer_manager *m, const struct h2_link *l);

struct peer_link_info {
	const char *name, *address, *direction, *state; /* borrowed for the call */
	const struct h2_link *link;			/* NULL when down (backoff) */
	uint64_t age_usec;
	unsigned streams;
	uint64_t bytes_in, bytes_out;
	/* for metrics: stream payload, streams opened and the last keepalive round trip
	 * (h2-link.h), summed over every link a dialed peer had; reconnects: links of a dialed
	 * peer that came up after its first */
	bool dialed;
	struct h2_link_stats total;
	uint64_t reconnects;
};
typedef void (*peer_link_fn)(const struct peer_link_info *i, void *userdata);

/**
 * peer_manager_links() - Call @fn for every link: dialed ones (and held peers in their
 * backoff), then accepted ones
 */
void peer_manager_links(struct peer_manager *m, peer_link_fn fn, void *userdata);

/**
 * peer_manager_set_key_dir() - Accepted links may use @key (copied) or any key in @dir (scoped
 * keys, peer-key.h; re-read when the directory changes)
 * Return: 0, -ENOMEM
 */
int peer_manager_set_key_dir(struct peer_manager *m, const struct peer_key *key, const char *dir);

/**
 * peer_manager_link_key() - The key identity an accepted link @l authenticated with
 * @ret_key:	(optional) the key now, NULL when it was revoked since (its file removed)
 * Return: the identity (borrowed), or NULL when @l is a link we dialed (our own key)
 */
const char *peer_manager_link_key(struct peer_manager *m, const struct h2_link *l,
				  const struct peer_key **ret_key);

/**
 * peer_manager_key_count() - Return: how many keys accepted links may use (the own key too)
 */
size_t peer_manager_key_count(struct peer_manager *m);

/**
 * peer_manager_named_link() - Return: the accepted link whose daemon claimed @name, or NULL
 */
struct h2_link *peer_manager_named_link(struct peer_manager *m, const char *name);

typedef void (*peer_reply_fn)(void *userdata, int r, const char *line, size_t len);

/**
 * peer_request() - Send one control request line to @p and get the reply line
 * @line:	one JSON object with its '\n' (copied)
 * @cb:		called once with 0 and the reply (borrowed, valid during the call) or a negative
 *		errno (link down, refused, timeout, a reply over the line limit)
 * @ret:	the pending request (optional): pass it to peer_request_cancel() to stop waiting
 * A request dials at once even while the peer is in its backoff (data streams do not).
 * Return: 0 (@cb comes later) or a negative errno from peer_open()
 */
int peer_request(struct peer *p, const char *line, peer_reply_fn cb, void *userdata,
		 struct peer_request **ret);

typedef void (*peer_ctl_fn)(void *userdata, int r, const char *error);

/**
 * peer_ctl_request() - peer_request() for a request whose reply says only "ok" or an error
 * (create, delete, renew, hello)
 * @line:	one JSON object with its '\n' (ctl_request_format(); copied)
 * @cb:		called once (unless the request is cancelled, never from inside this call) with 0
 *		(ok), -EREMOTEIO and the far side's message (borrowed, valid during the call), or
 *		another negative errno and NULL (link down, timeout, a reply that does not parse)
 * @ret:	the pending request (optional), for peer_request_cancel()
 * Return: 0 (@cb comes later) or a negative errno from peer_open()
 */
int peer_ctl_request(struct peer *p, const char *line, peer_ctl_fn cb, void *userdata,
		     struct peer_request **ret);

/**
 * peer_request_set_progress() - Progress lines of @rq go to @fn (borrowed line)
 */
void peer_request_set_progress(struct peer_request *rq,
			       void (*fn)(void *userdata, const char *line, size_t len));

/**
 * peer_request_cancel() - Stop waiting: the callback is not called. NULL is fine. Return: NULL
 */
struct peer_request *peer_request_cancel(struct peer_request *rq);
