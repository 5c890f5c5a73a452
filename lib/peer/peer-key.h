/* SPDX-License-Identifier: MIT */
/*
 * peer-key.h - the pre-shared key of the peer links: load, check, generate
 *
 * A key file holds the key as hex (what `wormhole keygen` writes: 64 hex digits, 32 random
 * bytes, and a newline) or, for keys made by other means, as raw text; either way at least
 * PEER_KEY_MIN bytes of key material. A file readable or writable by group or others is refused,
 * as ssh and stunnel do: the key authenticates every peer and every remote control request.
 * There is no built-in key.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PEER_KEY_MIN 32
#define PEER_KEY_MAX 256

struct peer_key {
	uint8_t bytes[PEER_KEY_MAX];
	size_t len;
};

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
