/* SPDX-License-Identifier: MIT */
/*
 * key-rules.h - what a scoped peer key may do (`wormhole keygen --allow RULES`)
 *
 * RULES is a list of rules separated by spaces or ';'. A request from a peer that holds a key
 * with rules is allowed only if every rule allows it; a key without rules may do anything.
 *
 *   port=LIST          created segments listen only on these ports (80,443,8000-8099); a head
 *                      without a port (ephemeral) is refused; delete only segments on them
 *   remote=self        `remote NAME` only to a daemon linked here with this same key
 *   remote=NAME,...    `remote` only to these hosts or names; remote=none: never
 *   no-docker-run      no `docker-run`
 *   container=PATTERN  `docker-ns` / `docker-run --name` only for containers matching PATTERN
 *                      (fnmatch: web-*)
 *   read-only          only list, ping, version
 *   name=PATTERN       the daemon holding the key may call itself only a matching name (hello)
 *
 * Scoped keys never run `link`/`unlink` or tunnel requests on the daemon that accepted them. A refusal names the
 * rule: "refused by rule 'port=80,443': the head is on port 22".
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct key_rules;
struct spec;

/**
 * key_rules_parse() - Parse RULES
 * @ret:	on success only; NULL when @text has no rule (full power); key_rules_free() it
 * @reterr:	on -EINVAL, a malloc'ed message naming the rule
 * Return: 0, -EINVAL, -ENOMEM
 */
int key_rules_parse(const char *text, struct key_rules **ret, char **reterr);

/**
 * key_rules_free() - NULL is fine. Return: NULL
 */
struct key_rules *key_rules_free(struct key_rules *kr);
void key_rules_freep(struct key_rules **kr);

/**
 * key_rules_check_create() - May a create of @sp be asked for?
 * @peer_head:	the create is a peer's `remote` part (its head is the link: no port check)
 * @remote_self: whether `remote HOST` goes to a daemon linked with the same key (for
 *		remote=self; may be NULL: never)
 * @reterr:	on -EPERM, a malloc'ed message naming the rule
 * Return: 0, -EPERM, -ENOMEM
 */
int key_rules_check_create(const struct key_rules *kr, const struct spec *sp, bool peer_head,
			   bool (*remote_self)(const char *host, void *userdata), void *userdata,
			   char **reterr);

/**
 * key_rules_check_op() - May an op other than create be asked for? @op: "list", "delete", ...
 * @port:	delete: the head port of the segment (0: unknown)
 * @name:	hello: the name claimed
 * Return: 0, -EPERM (with *reterr), -ENOMEM
 */
int key_rules_check_op(const struct key_rules *kr, const char *op, uint16_t port, const char *name,
		       char **reterr);
