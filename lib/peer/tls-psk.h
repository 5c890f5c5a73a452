/* SPDX-License-Identifier: MIT */
/*
 * tls-psk.h - TLS 1.3 with an external pre-shared key, for the peer links
 *
 * Both ends hold the same key (peer-key.h); there are no certificates. The contexts made here
 * allow TLS 1.3 only, offer TLS_AES_128_GCM_SHA256 (and TLS_CHACHA20_POLY1305_SHA256), issue no
 * session tickets, never accept early data, and leave OpenSSL 3.0's default PSK key exchange
 * mode, psk_dhe_ke: every handshake runs X25519 on top of the key, so a key that leaks later
 * does not open recorded traffic (forward secrecy). A peer with another key fails the handshake
 * (the server's binder check), which costs it one round trip and nothing else.
 */
#pragma once

#include <stdbool.h>

#include <openssl/ssl.h>

struct peer_key;
struct peer_keyring;

#define TLS_PSK_IDENTITY "wormhole"

/**
 * tls_psk_ctx_new() - An SSL_CTX for the dialing (@server false) or the accepting end
 * @key:	the key (copied into the context, wiped when the context is freed)
 * @ret:	the context on success only; SSL_CTX_free() it
 *
 * Return: 0, -ENOMEM, -EIO (OpenSSL refused a setting)
 */
int tls_psk_ctx_new(const struct peer_key *key, bool server, SSL_CTX **ret);

/**
 * tls_psk_error() - Drain the OpenSSL error queue of this thread into one line
 * @buf, @len:	where to write it (always NUL-terminated)
 * Return: @buf
 */
const char *tls_psk_error(char *buf, size_t len);

/**
 * tls_psk_ctx_set_keyring() - A server context accepts every key of @kr (borrowed, outlives
 * @ctx), each by its identity, instead of only its own key
 */
void tls_psk_ctx_set_keyring(SSL_CTX *ctx, struct peer_keyring *kr);

/**
 * tls_psk_identity() - Return: the key identity a server-side @ssl accepted (borrowed), or NULL
 */
const char *tls_psk_identity(SSL *ssl);
