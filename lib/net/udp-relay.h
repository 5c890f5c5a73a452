/* SPDX-License-Identifier: MIT */
/*
 * udp-relay.h - UDP sessions: one backend socket per client address
 *
 * The relay reads datagrams (whole, up to 64 KiB) from the segment's listening socket. A new
 * client address opens a session and asks the owner for a backend socket (ops->session_open);
 * the owner may answer at once or later (a trigger) with udp_session_attach() or
 * udp_session_fail(); datagrams that arrive meanwhile are queued (bounded, the excess dropped).
 * Replies from the backend go back to the client from the listening socket. A session with no
 * traffic either way for the idle timeout ends.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <systemd/sd-event.h>

struct udp_relay;
struct udp_session;

struct udp_relay_ops {
	/* Optional: may a new client open a session now? false drops its datagram (the owner's
	 * share of descriptors is used up); the next datagram asks again. */
	bool (*session_admit)(struct udp_relay *u, void *userdata);
	/* A new client: call udp_session_attach()/udp_session_fail() now or later. */
	void (*session_open)(struct udp_relay *u, struct udp_session *s, void *userdata);
	/* A session ended (idle, error, relay freed): log it. @s is freed after the call. */
	void (*session_done)(struct udp_relay *u, struct udp_session *s, int error,
			     const char *reason, void *userdata);
};

/**
 * udp_relay_new() - Serve a bound UDP socket
 * @e:		event loop (borrowed)
 * @listen_fd:	bound, non-blocking UDP socket; ownership passes on success only
 * @idle_usec:	session idle timeout
 * @max_sessions: datagrams from new clients beyond this many sessions are dropped (and beyond
 *		what ops->session_admit allows)
 * @ops, @userdata: callbacks
 * @ret:	the relay on success only
 *
 * Return: 0, -ENOMEM, or a negative errno from sd-event
 */
int udp_relay_new(sd_event *e, int listen_fd, uint64_t idle_usec, unsigned max_sessions,
		  const struct udp_relay_ops *ops, void *userdata, struct udp_relay **ret);

/**
 * udp_relay_free() - End every session (session_done is called for each), close the listening
 * socket. NULL is fine. Return: NULL
 */
struct udp_relay *udp_relay_free(struct udp_relay *u);

/**
 * udp_session_attach() - Give a pending session its connected backend socket
 * @fd:		connected non-blocking UDP socket; ownership passes to the session always
 *
 * Queued datagrams are sent at once. Return: 0 or a negative errno (the session then ends)
 */
int udp_session_attach(struct udp_session *s, int fd);

/**
 * udp_session_fail() - End a pending session (session_done is called with @error)
 */
void udp_session_fail(struct udp_session *s, int error, const char *reason);

/**
 * udp_session_client() - The client address of @s (borrowed, valid for the session's life)
 */
const struct sockaddr *udp_session_client(const struct udp_session *s, socklen_t *ret_len);

/**
 * udp_session_bytes() - Bytes moved: up = client -> backend, down = backend -> client
 */
void udp_session_bytes(const struct udp_session *s, uint64_t *ret_up, uint64_t *ret_down);

/**
 * udp_session_set_userdata() / udp_session_get_userdata() - the owner's per-session pointer
 */
void udp_session_set_userdata(struct udp_session *s, void *p);
void *udp_session_get_userdata(const struct udp_session *s);

/**
 * udp_relay_sessions() - Return: the number of live sessions
 */
unsigned udp_relay_sessions(const struct udp_relay *u);
