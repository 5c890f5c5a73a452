/* SPDX-License-Identifier: MIT */
/*
 * h2-link.h - one peer link: TLS 1.3 PSK on a TCP socket, HTTP/2 (libnghttp2) on top, carrying
 * many streams, opened by either end
 *
 * A link is made on a connected (or connecting) TCP socket by the end that dialed (the HTTP/2
 * client) or the end that accepted (the server). After the handshake (non-blocking on the
 * sd-event loop, bounded by H2_LINK_HANDSHAKE_USEC) each stream is an HTTP/2 request whose
 * :path says what it is for ("/ctl": control requests; "/data/<segment>": one connection of a
 * remote segment); its bytes are the request and response bodies, both open until each side
 * ends its half (END_STREAM), so a stream is a full-duplex byte stream with half-close: a
 * struct stream (lib/net/stream.h).
 *
 * Either end may open streams. HTTP/2 lets only the client open them, so the server end asks
 * the client to: the client keeps one internal stream, "/rev", on which the server writes
 * "<token> <path>\n"; the client then opens "/rev/<token>" and hands the new stream to its own
 * stream callback under <path>. The server's stream exists at once and buffers what is written
 * to it until the request arrives (one extra round trip, no extra handshake).
 *
 * Flow control is HTTP/2's, per stream and per link: a stream's receive window
 * (H2_LINK_STREAM_WINDOW) is given back only as its consumer reads, so a slow reader stalls its
 * own stream and no other. Buffers exist only while bytes are in flight: an idle stream costs
 * its small struct and nghttp2's stream state, no descriptor.
 *
 * Liveness: a PING goes out after H2_LINK_PING_USEC without input; no input at all for
 * H2_LINK_DEAD_USEC ends the link ("peer not answering"). A link that ends, for any reason,
 * fails every stream on it (their reads return -ECONNRESET) and reports through down() once,
 * from the event loop (never from inside a call into the link), so the owner may free it there.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <systemd/sd-event.h>

struct h2_link;
struct stream;

#define H2_LINK_HANDSHAKE_USEC (10ULL * 1000000ULL)
#define H2_LINK_PING_USEC      (1ULL * 1000000ULL)
#define H2_LINK_DEAD_USEC      (4ULL * 1000000ULL)
#define H2_LINK_STREAM_WINDOW  (512u * 1024u)
#define H2_LINK_PATH_MAX       256

struct h2_link_ops {
	/* the handshake is done: streams flow (those opened before are sent now) */
	void (*up)(struct h2_link *l, void *userdata);
	/* the peer opened a stream for @path. Return 0 to take @st (then it is the callee's, to
	 * stream_free() when done) or a negative errno to refuse it (the link resets it) */
	int (*stream)(struct h2_link *l, const char *path, struct stream *st, void *userdata);
	/* the link ended (@error: -ECONNRESET, -ETIMEDOUT, -EACCES for a failed handshake, ...;
	 * @reason: malloc'ed text, the callee's). Called once; the callee may h2_link_free() @l */
	void (*down)(struct h2_link *l, int error, char *reason, void *userdata);
};

/**
 * h2_link_new() - Run a peer link on a socket
 * @e:		the event loop (borrowed, outlives the link)
 * @fd:		a non-blocking TCP socket, connected or with a connect in progress; ownership
 *		passes to the link on success only
 * @ctx:	a TLS-PSK context (tls-psk.h) of the right role (borrowed; up-referenced)
 * @dialer:	true on the end that dialed (TLS and HTTP/2 client)
 * @ops, @userdata: callbacks (never called from inside h2_link_new())
 * @ret:	the link on success only
 *
 * Return: 0, -ENOMEM, or a negative errno from sd-event
 */
int h2_link_new(sd_event *e, int fd, SSL_CTX *ctx, bool dialer, const struct h2_link_ops *ops,
		void *userdata, struct h2_link **ret);

/**
 * h2_link_free() - Close the link (its streams fail, later free()s of them are fine); no
 * callback is called. NULL is fine. Return: NULL
 */
struct h2_link *h2_link_free(struct h2_link *l);

/**
 * h2_link_open() - Open a stream to the peer for @path
 * @path:	"/ctl", "/data/web", ... (copied; at most H2_LINK_PATH_MAX bytes, no spaces)
 * @ret:	the stream on success only; it belongs to the caller (stream_free()). Writes are
 *		buffered until the stream exists on the peer; a peer that refuses it makes reads
 *		return -ECONNREFUSED
 *
 * Works in every state before down(): a stream opened during the handshake goes out with the
 * link. Return: 0, -EINVAL (path), -ENOMEM, -ENOTCONN (the link ended)
 */
int h2_link_open(struct h2_link *l, const char *path, struct stream **ret);

/**
 * h2_link_is_up() - Return: whether the handshake is done and the link has not ended
 */
bool h2_link_is_up(const struct h2_link *l);

/**
 * h2_link_peer() - Return: the peer's address as text ("198.18.0.2:9999"), static per link
 */
const char *h2_link_peer(const struct h2_link *l);

/**
 * h2_link_local() - This end's address of @l as text ("198.18.0.1:9999", "[fd57:6f72::1]:9999"):
 * on a link the peer dialed, the address it dialed (unless a NAT in between rewrote it)
 * @buf:	output, at least SOCKADDR_STR_MAX (sockaddr.h) bytes
 * Return: 0, or a negative errno from getsockname()
 */
int h2_link_local(const struct h2_link *l, char *buf);

/**
 * h2_link_streams() - Return: the streams open on @l now (both directions)
 */
unsigned h2_link_streams(const struct h2_link *l);

/* What a link counted since it was made (h2_link_get_stats()); the internal /rev stream and
 * its lines are not counted. */
struct h2_link_stats {
	uint64_t streams_total;	      /* streams opened, either side */
	uint64_t bytes_in, bytes_out; /* DATA payload received / sent, all streams */
	uint64_t rtt_usec;	      /* the last keepalive PING's round trip; 0: none yet */
};

/**
 * h2_link_get_stats() - Copy @l's counters into @ret (read-only; any time, any state)
 */
void h2_link_get_stats(const struct h2_link *l, struct h2_link_stats *ret);

/**
 * h2_link_bytes() - TLS application bytes received and sent on @l so far
 */
void h2_link_bytes(const struct h2_link *l, uint64_t *ret_in, uint64_t *ret_out);

/**
 * h2_link_ssl() - Return: the link's TLS object (borrowed; for the key identity, tls-psk.h)
 */
SSL *h2_link_ssl(const struct h2_link *l);

/**
 * h2_link_set_userdata() - Change what the callbacks get as userdata
 */
void h2_link_set_userdata(struct h2_link *l, void *userdata);
