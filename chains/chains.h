/* SPDX-License-Identifier: MIT */
/*
 * chains.h - the chain words' ops, one chains/<word>.c each, and their table
 *
 * The interface an op implements (struct chain_op) is the engine's, in lib/engine/word-ops.h:
 * the engine runs words through it without knowing any word. This floor only fills the table,
 * which wormholed hands to the engine at start (struct daemon.ops).
 */
#pragma once

#include <stdbool.h>

#include "ctl-proto.h"
#include "spec.h"
#include "word-ops.h"

extern const struct chain_op chain_op_url;
extern const struct chain_op chain_op_child;
extern const struct chain_op chain_op_chain;
extern const struct chain_op chain_op_docker_ns;
extern const struct chain_op chain_op_docker_run;
extern const struct chain_op chain_op_remote;
extern const struct chain_op chain_op_tunnel;
extern const struct chain_op chain_op_udptunnel;
extern const struct chain_op chain_op_idle;
extern const struct chain_op chain_op_proxy_protocol;
extern const struct chain_op chain_op_balance;
extern const struct chain_op chain_op_sni;

/**
 * chain_ops - the ops of every word, indexed by enum spec_word_type (NULL: a word that needs no
 * runtime op)
 */
extern const struct chain_op *const chain_ops[_SPEC_WORD_TYPE_MAX];

/**
 * chain_op_get() - Return: the op for a word type (never NULL for a valid type)
 */
const struct chain_op *chain_op_get(enum spec_word_type t);

/**
 * chain_check_supported() - Find the first word of @seg (or its descendants) this daemon cannot run
 * @reterr:	on -EOPNOTSUPP, a malloc'ed message naming the word and its position
 *
 * Return: 0, -EOPNOTSUPP, -ENOMEM
 */
int chain_check_supported(const struct spec_seg *seg, char **reterr);

struct peer;
struct segment;

/**
 * chain_remote_peer_up() - The link to @p came (back) up: renew the leases of our remote
 * segments there (remote.c)
 */
void chain_remote_peer_up(struct peer *p);

/**
 * chain_remote_send() - Send @op (delete, renew) for segment @id to @p without waiting: the
 * outcome is only logged (a refusal at debug level, a link failure as a warning). The request
 * keeps @p referenced until it ends, so the caller may drop its own reference at once.
 */
void chain_remote_send(struct peer *p, enum ctl_op op, const char *id);

/**
 * chain_remote_child() - The remote segments @s made on peers, one per call
 * @iter:	start at 0; advanced by each call
 * @ret_host:	the peer ("host:port"), valid while the segment lives
 * @ret_state:	(optional) malloc'ed "remote up, 2 streams, 10 opened, 1 failed" (NULL on ENOMEM)
 *
 * With several providers (`remote HOST1,HOST2`) each is one call, with the same id.
 * Return: the remote segment's id (valid while @s lives), NULL when there are no more
 */
const char *chain_remote_child(const struct segment *s, size_t *iter, const char **ret_host,
			       char **ret_state);

/* A tunnel is up (@r 0, @remote_ov the peer's overlay address) or could not be made (@error). */
typedef void (*chain_tunnel_fn)(void *userdata, int r, const char *error, const char *remote_ov);

/* What chains/tunnel.c needs from the daemon's tunnel registry (wormholed/tunnels.c). */
struct chain_tunnel_provider {
	/* create the tunnel to @host or reuse it: 0 with *@ret_remote_ov (malloc'ed) when it is
	 * up now, 1 when @cb comes later (*@ret_wait cancels it), <0 with *@ret_error */
	int (*ensure)(const char *host, bool udp, chain_tunnel_fn cb, void *userdata,
		      void **ret_wait, char **ret_remote_ov, char **ret_error);
	void (*cancel)(void *wait); /* @cb is not called */
};

/**
 * chain_tunnel_set_provider() - Who makes tunnels for `tunnel` and `udptunnel` (borrowed,
 * static); NULL: those words are refused
 */
void chain_tunnel_set_provider(const struct chain_tunnel_provider *p);
