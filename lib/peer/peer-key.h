/* SPDX-License-Identifier: MIT */
/*
 * peer-key.h - the pre-shared key of the peer links: load, check, generate
 *
 * A key file holds the key as hex (what `wormhole keygen` writes: 64 hex digits, 32 random
 * bytes, and a newline) or, for keys made by other means, as raw text; either way at least
 * PEER_KEY_MIN bytes of key material. A file readable or writable by group or others is refused,
 * as ssh and stunnel do: the key authenticates every peer and every remote control request.
 * There is no built-in key.
 *
 * Scoped keys: a key file may start with header lines, "id ID" (the TLS PSK identity the key is
 * known by, so logs say which key did what) and "allow RULES" (what a peer holding the key may
 * ask of a daemon that accepted its link; lib/grammar/key-rules.h), then the key line. A file
 * without them is the full-power key, identity "wormhole". A daemon accepts its own key (-K) and
 * every key in its key directory (--keys DIR, default /etc/wormhole/keys.d): a peer_keyring,
 * re-read when the directory changes, so removing a key's file revokes it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PEER_KEY_MIN	    32
#define PEER_KEY_MAX	    256

#define PEER_KEY_ID_MAX	    64
#define PEER_KEY_ALLOW_MAX  1024
#define PEER_KEY_DEFAULT_ID "wormhole"

struct peer_key {
	uint8_t bytes[PEER_KEY_MAX];
	size_t len;
	char id[PEER_KEY_ID_MAX];	/* "" : the default identity */
	char allow[PEER_KEY_ALLOW_MAX]; /* "" : full power */
};

struct peer_keyring;

/**
 * peer_key_id() - Return: the identity of @k (its id, or PEER_KEY_DEFAULT_ID)
 */
const char *peer_key_id(const struct peer_key *k);

/**
 * peer_keyring_new() - The keys a daemon accepts: @dflt (copied) and the key files in @dir
 * (may be NULL or missing; files that do not load are logged by the caller through
 * peer_keyring_errors(), never accepted)
 * Return: 0, -ENOMEM
 */
int peer_keyring_new(const struct peer_key *dflt, const char *dir, struct peer_keyring **ret);

/**
 * peer_keyring_free() - Wipe and free. NULL is fine. Return: NULL
 */
struct peer_keyring *peer_keyring_free(struct peer_keyring *kr);

/**
 * peer_keyring_find() - The key whose identity is @id (@len bytes); the directory is re-read
 * first when its modification time changed
 * Return: the key (borrowed, valid until the next call), or NULL (unknown or revoked)
 */
const struct peer_key *peer_keyring_find(struct peer_keyring *kr, const char *id, size_t len);

/**
 * peer_keyring_count() - Return: how many keys the ring holds (after a re-read if needed)
 */
size_t peer_keyring_count(struct peer_keyring *kr);

/**
 * peer_key_generate_scoped() - peer_key_generate() with header lines "id @id" and "allow
 * @allow" (either may be NULL)
 * Return: as peer_key_generate(), and -EINVAL for an id or rules that do not fit a line
 */
int peer_key_generate_scoped(const char *path, const char *id, const char *allow, char **ret_error);

/**
 * peer_key_load() - Read and check a key file
 * @path:	the file (borrowed)
 * @ret:	the key on success only; wipe it with peer_key_wipe() when done
 * @ret_error:	on failure, a malloc'ed message saying what is wrong and how to fix it
 *
 * Return: 0, -ENOENT, -EPERM (mode too wide), -EINVAL (too short, not a regular file, too
 * long), -ENOMEM, or another negative errno from open/read
 */
int peer_key_load(const char *path, struct peer_key *ret, char **ret_error);

/**
 * peer_key_generate() - Write a new random key (32 bytes, hex) to @path, mode 0600; creates
 * the parent directory (0700) when it is missing, refuses to overwrite an existing file
 * @ret_error:	on failure, a malloc'ed message
 *
 * Return: 0, -EEXIST, -ENOMEM, or a negative errno
 */
int peer_key_generate(const char *path, char **ret_error);

/**
 * peer_key_wipe() - Overwrite the key material of @k (OPENSSL_cleanse) and zero its length
 */
void peer_key_wipe(struct peer_key *k);
