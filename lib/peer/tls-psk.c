/* SPDX-License-Identifier: MIT */
/*
 * tls-psk.c - TLS 1.3 external-PSK contexts (tls-psk.h)
 *
 * The key lives in the context's ex-data (a copy, wiped by the ex-data free callback). The
 * client's use-session callback and the server's find-session callback each build a fresh
 * SSL_SESSION carrying the key as its master key, the TLS_AES_128_GCM_SHA256 cipher and TLS 1.3
 * (platform notes §4.1); a server that is offered another identity returns no session, and the
 * handshake fails for want of a certificate.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "peer-key.h"
#include "tls-psk.h"

#define TLS_PSK_READ_BUFFER (4 * (16384 + 256))

static int key_index = -1;
static int ring_index = -1;  /* server contexts: the struct peer_keyring (borrowed) */
static int ident_index = -1; /* each server SSL: the identity it accepted (malloc'ed) */

static void ident_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	OPENSSL_free(ptr);
}

static void key_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct peer_key *k = ptr;

	if (!k)
		return;
	peer_key_wipe(k);
	OPENSSL_free(k);
}

static SSL_SESSION *psk_session_of(SSL *ssl, const struct peer_key *k)
{
	static const unsigned char aes128gcm_sha256[2] = { 0x13, 0x01 };
	const SSL_CIPHER *c = SSL_CIPHER_find(ssl, aes128gcm_sha256);
	SSL_SESSION *s;

	if (!k || !c)
		return NULL;
	s = SSL_SESSION_new();
	if (!s || !SSL_SESSION_set1_master_key(s, k->bytes, k->len) ||
	    !SSL_SESSION_set_cipher(s, c) || !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION) ||
	    !SSL_SESSION_set_max_early_data(s, 0)) {
		SSL_SESSION_free(s);
		return NULL;
	}
	return s;
}

static SSL_SESSION *psk_session(SSL *ssl)
{
	return psk_session_of(ssl, SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), key_index));
}

static int on_use_session(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
			  SSL_SESSION **sess)
{
	SSL_SESSION *s = psk_session(ssl);

	if (!s)
		return 0;
	/* after a HelloRetryRequest OpenSSL asks again with the digest the server chose */
	if (md && SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(s)) != md) {
		SSL_SESSION_free(s);
		*sess = NULL;
		return 1;
	}
	{
		const struct peer_key *k = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), key_index);
		const char *ident = peer_key_id(k);

		*id = (const unsigned char *)ident;
		*idlen = strlen(ident);
	}
	*sess = s;
	return 1;
}

static int on_find_session(SSL *ssl, const unsigned char *id, size_t idlen, SSL_SESSION **sess)
{
	struct peer_keyring *kr = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ring_index);
	const struct peer_key *k;
	char *copy;

	*sess = NULL;
	if (!kr) {
		k = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), key_index);
		if (!k || idlen != strlen(peer_key_id(k)) || memcmp(id, peer_key_id(k), idlen) != 0)
			return 1; /* unknown identity: no session, the handshake fails */
	} else {
		k = peer_keyring_find(kr, (const char *)id, idlen);
		if (!k)
			return 1;
	}
	copy = OPENSSL_strndup((const char *)id, idlen);
	if (!copy || !SSL_set_ex_data(ssl, ident_index, copy)) {
		OPENSSL_free(copy);
		return 0;
	}
	*sess = psk_session_of(ssl, k);
	return *sess ? 1 : 0;
}

int tls_psk_ctx_new(const struct peer_key *key, bool server, SSL_CTX **ret)
{
	struct peer_key *k;
	SSL_CTX *ctx;

	if (key_index < 0) {
		key_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, key_free);
		ring_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
		ident_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, ident_free);
		if (key_index < 0 || ring_index < 0 || ident_index < 0)
			return -ENOMEM;
	}
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx)
		return -ENOMEM;
	k = OPENSSL_malloc(sizeof(*k));
	if (!k || !SSL_CTX_set_ex_data(ctx, key_index, k)) {
		OPENSSL_free(k);
		SSL_CTX_free(ctx);
		return -ENOMEM;
	}
	*k = *key;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256") ||
	    !SSL_CTX_set_max_early_data(ctx, 0) || !SSL_CTX_set_recv_max_early_data(ctx, 0)) {
		SSL_CTX_free(ctx);
		return -EIO;
	}
	/* no tickets (a PSK link needs no resumption); never SSL_OP_ALLOW_NO_DHE_KEX (PFS) */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* no SSL_MODE_RELEASE_BUFFERS: one link per peer, and freeing the record buffers
	 * after each record costs more CPU than the memory is worth */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* without read-ahead every record costs two read()s (its header, then its body); with it
	 * one read() takes several records into a buffer that holds four full ones */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, TLS_PSK_READ_BUFFER);
	if (server)
		SSL_CTX_set_psk_find_session_callback(ctx, on_find_session);
	else
		SSL_CTX_set_psk_use_session_callback(ctx, on_use_session);
	*ret = ctx;
	return 0;
}

const char *tls_psk_error(char *buf, size_t len)
{
	unsigned long e;
	size_t used = 0;

	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[256];

		ERR_error_string_n(e, one, sizeof(one));
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "; " : "",
						 one);
	}
	if (!buf[0])
		snprintf(buf, len, "connection closed during the handshake");
	return buf;
}

void tls_psk_ctx_set_keyring(SSL_CTX *ctx, struct peer_keyring *kr)
{
	(void)SSL_CTX_set_ex_data(ctx, ring_index, kr);
}

const char *tls_psk_identity(SSL *ssl)
{
	return ident_index >= 0 ? SSL_get_ex_data(ssl, ident_index) : NULL;
}
