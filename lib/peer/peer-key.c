/* SPDX-License-Identifier: MIT */
/*
 * peer-key.c - load, check and generate the pre-shared key of the peer links (peer-key.h)
 *
 * The key file is read with O_NOFOLLOW and checked on the open descriptor (fstat), so what is
 * checked is what is read. Hex is decoded when the whole content is hex of even length; other
 * content is taken as raw bytes with the trailing newline removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cleanup.h"
#include "errmsg.h"
#include "peer-key.h"

void peer_key_wipe(struct peer_key *k)
{
	OPENSSL_cleanse(k->bytes, sizeof(k->bytes));
	k->len = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int peer_key_load(const char *path, struct peer_key *ret, char **ret_error)
{
	char buf[2 * PEER_KEY_MAX + 4];
	_cleanup_close_ int fd = -EBADF;
	struct peer_key k = { 0 };
	struct stat st;
	size_t len = 0;
	bool hex;
	int r;

	*ret_error = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			(void)errmsg_set(ret_error,
					 "key file '%s' does not exist; make one with `wormhole "
					 "keygen %s` and copy it to every peer",
					 path, path);
		else
			(void)errmsg_set(ret_error, "key file '%s': %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		(void)errmsg_set(ret_error, "key file '%s': %s", path, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)errmsg_set(ret_error, "key file '%s' is not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & 0077) {
		(void)errmsg_set(ret_error,
				 "key file '%s' is accessible by group or others (mode %04o); "
				 "fix it with `chmod 600 %s`",
				 path, (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			OPENSSL_cleanse(buf, sizeof(buf));
			(void)errmsg_set(ret_error, "key file '%s': %s", path, strerror(-r));
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf)) {
			OPENSSL_cleanse(buf, sizeof(buf));
			(void)errmsg_set(ret_error, "key file '%s' is too long (over %d bytes)",
					 path, 2 * PEER_KEY_MAX);
			return -EINVAL;
		}
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	hex = len > 0 && len % 2 == 0;
	for (size_t i = 0; hex && i < len; i++)
		hex = hexval(buf[i]) >= 0;
	if (hex) {
		for (size_t i = 0; i < len / 2; i++)
			k.bytes[i] = (uint8_t)((unsigned)hexval(buf[2 * i]) << 4 |
					       (unsigned)hexval(buf[2 * i + 1]));
		k.len = len / 2;
	} else if (len <= PEER_KEY_MAX) {
		memcpy(k.bytes, buf, len);
		k.len = len;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (k.len < PEER_KEY_MIN) {
		peer_key_wipe(&k);
		(void)errmsg_set(ret_error,
				 "key file '%s' holds less than %d bytes of key material; make a "
				 "new one with `wormhole keygen`",
				 path, PEER_KEY_MIN);
		return -EINVAL;
	}
	*ret = k;
	peer_key_wipe(&k);
	return 0;
}

int peer_key_generate(const char *path, char **ret_error)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t key[32];
	char text[2 * sizeof(key) + 1];
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r = 0;

	*ret_error = NULL;
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	if (mkdir(dirname(dir), 0700) < 0 && errno != EEXIST) {
		r = -errno;
		(void)errmsg_set(ret_error, "cannot create the directory of '%s': %s", path,
				 strerror(-r));
		return r;
	}
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		(void)errmsg_set(ret_error, "cannot get random bytes");
		return -EIO;
	}
	for (size_t i = 0; i < sizeof(key); i++) {
		text[2 * i] = digits[key[i] >> 4];
		text[2 * i + 1] = digits[key[i] & 15];
	}
	text[sizeof(text) - 1] = '\n';
	OPENSSL_cleanse(key, sizeof(key));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		if (r == -EEXIST)
			(void)errmsg_set(ret_error,
					 "'%s' exists already; remove it first to replace the key",
					 path);
		else
			(void)errmsg_set(ret_error, "cannot create '%s': %s", path, strerror(-r));
		OPENSSL_cleanse(text, sizeof(text));
		return r;
	}
	/* the umask may have narrowed 0600 further, never widened it; make it exactly 0600 */
	if (fchmod(fd, 0600) < 0 || write(fd, text, sizeof(text)) != (ssize_t)sizeof(text) ||
	    fsync(fd) < 0) {
		r = errno ? -errno : -EIO;
		(void)unlink(path);
		(void)errmsg_set(ret_error, "cannot write '%s': %s", path, strerror(-r));
	}
	OPENSSL_cleanse(text, sizeof(text));
	return r;
}
