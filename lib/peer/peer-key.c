/* SPDX-License-Identifier: MIT */
/*
 * peer-key.c - load, check and generate the pre-shared key of the peer links (peer-key.h)
 *
 * The key file is read with O_NOFOLLOW and checked on the open descriptor (fstat), so what is
 * checked is what is read. Hex is decoded when the whole content is hex of even length; other
 * content is taken as raw bytes with the trailing newline removed.
 */
#include <dirent.h>
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

/* Header lines "id ..." / "allow ..." / "# ..." at the start of @buf go into @k; returns the
 * offset of the key material. */
static size_t parse_header(char *buf, size_t len, struct peer_key *k)
{
	size_t off = 0;

	while (off < len) {
		char *nl = memchr(buf + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (buf + off)) : len - off;
		const char *line = buf + off;

		if (ll > 0 && line[0] == '#') {
		} else if (ll > 3 && strncmp(line, "id ", 3) == 0) {
			snprintf(k->id, sizeof(k->id), "%.*s", (int)(ll - 3), line + 3);
		} else if (ll > 6 && strncmp(line, "allow ", 6) == 0) {
			snprintf(k->allow, sizeof(k->allow), "%.*s", (int)(ll - 6), line + 6);
		} else
			break;
		off += ll + (nl ? 1 : 0);
	}
	return off;
}

const char *peer_key_id(const struct peer_key *k)
{
	return k->id[0] ? k->id : PEER_KEY_DEFAULT_ID;
}

int peer_key_load(const char *path, struct peer_key *ret, char **ret_error)
{
	char buf[2 * PEER_KEY_MAX + PEER_KEY_ALLOW_MAX + PEER_KEY_ID_MAX + 64];
	char *mat;
	size_t hdr;
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
			(void)errmsg_set(ret_error, "key file '%s' is too long (over %zu bytes)",
					 path, sizeof(buf) - 1);
			return -EINVAL;
		}
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	hdr = parse_header(buf, len, &k);
	mat = buf + hdr;
	len -= hdr;
	hex = len > 0 && len % 2 == 0;
	for (size_t i = 0; hex && i < len; i++)
		hex = hexval(mat[i]) >= 0;
	if (hex && len / 2 <= PEER_KEY_MAX) {
		for (size_t i = 0; i < len / 2; i++)
			k.bytes[i] = (uint8_t)((unsigned)hexval(mat[2 * i]) << 4 |
					       (unsigned)hexval(mat[2 * i + 1]));
		k.len = len / 2;
	} else if (!hex && len <= PEER_KEY_MAX) {
		memcpy(k.bytes, mat, len);
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
	return peer_key_generate_scoped(path, NULL, NULL, ret_error);
}

int peer_key_generate_scoped(const char *path, const char *id, const char *allow, char **ret_error)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t key[32];
	char text[PEER_KEY_ID_MAX + PEER_KEY_ALLOW_MAX + 2 * sizeof(key) + 32];
	size_t tl = 0;
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r = 0;

	*ret_error = NULL;
	if ((id && (!id[0] || strlen(id) >= PEER_KEY_ID_MAX || strpbrk(id, " \t\r\n"))) ||
	    (allow && (strlen(allow) >= PEER_KEY_ALLOW_MAX || strpbrk(allow, "\r\n"))))
		return ERRMSG_FAIL(ret_error, "the key id or the rules do not fit on one line");
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
	if (id)
		tl += (size_t)snprintf(text + tl, sizeof(text) - tl, "id %s\n", id);
	if (allow)
		tl += (size_t)snprintf(text + tl, sizeof(text) - tl, "allow %s\n", allow);
	for (size_t i = 0; i < sizeof(key); i++) {
		text[tl++] = digits[key[i] >> 4];
		text[tl++] = digits[key[i] & 15];
	}
	text[tl++] = '\n';
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
	if (fchmod(fd, 0600) < 0 || write(fd, text, tl) != (ssize_t)tl || fsync(fd) < 0) {
		r = errno ? -errno : -EIO;
		(void)unlink(path);
		(void)errmsg_set(ret_error, "cannot write '%s': %s", path, strerror(-r));
	}
	OPENSSL_cleanse(text, sizeof(text));
	return r;
}

/* ---- the keys a daemon accepts ------------------------------------------------------------ */

struct peer_keyring {
	struct peer_key dflt;
	char *dir;
	struct peer_key *keys; /* from @dir */
	size_t n;
	struct timespec mtime;
	bool loaded;
};

static void keyring_drop(struct peer_keyring *kr)
{
	for (size_t i = 0; i < kr->n; i++)
		peer_key_wipe(&kr->keys[i]);
	free(kr->keys);
	kr->keys = NULL;
	kr->n = 0;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Re-read @kr->dir when its mtime changed (or it appeared or vanished). */
static void keyring_refresh(struct peer_keyring *kr)
{
	struct dirent **names = NULL;
	struct stat st;
	int n;

	if (!kr->dir)
		return;
	if (stat(kr->dir, &st) < 0) {
		keyring_drop(kr);
		kr->loaded = false;
		return;
	}
	if (kr->loaded && st.st_mtim.tv_sec == kr->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == kr->mtime.tv_nsec)
		return;
	keyring_drop(kr);
	kr->mtime = st.st_mtim;
	kr->loaded = true;
	n = scandir(kr->dir, &names, NULL, name_cmp);
	if (n < 0)
		return;
	kr->keys = calloc((size_t)n + 1, sizeof(*kr->keys));
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *path = NULL, *err = NULL;
		struct peer_key k = { 0 };

		if (kr->keys && names[i]->d_name[0] != '.' &&
		    asprintf(&path, "%s/%s", kr->dir, names[i]->d_name) >= 0 &&
		    peer_key_load(path, &k, &err) >= 0) {
			if (!k.id[0]) /* a key without an id is known by its file name */
				snprintf(k.id, sizeof(k.id), "%.*s",
					 (int)strcspn(names[i]->d_name, "."), names[i]->d_name);
			kr->keys[kr->n++] = k;
			peer_key_wipe(&k);
		}
		free(names[i]);
	}
	free(names);
}

int peer_keyring_new(const struct peer_key *dflt, const char *dir, struct peer_keyring **ret)
{
	struct peer_keyring *kr = calloc(1, sizeof(*kr));

	if (!kr)
		return -ENOMEM;
	kr->dflt = *dflt;
	if (dir) {
		kr->dir = strdup(dir);
		if (!kr->dir) {
			peer_keyring_free(kr);
			return -ENOMEM;
		}
	}
	*ret = kr;
	return 0;
}

struct peer_keyring *peer_keyring_free(struct peer_keyring *kr)
{
	if (!kr)
		return NULL;
	keyring_drop(kr);
	peer_key_wipe(&kr->dflt);
	free(kr->dir);
	free(kr);
	return NULL;
}

const struct peer_key *peer_keyring_find(struct peer_keyring *kr, const char *id, size_t len)
{
	const char *d = peer_key_id(&kr->dflt);

	if (strlen(d) == len && memcmp(d, id, len) == 0)
		return &kr->dflt;
	keyring_refresh(kr);
	for (size_t i = 0; kr->keys && i < kr->n; i++)
		if (strlen(kr->keys[i].id) == len && memcmp(kr->keys[i].id, id, len) == 0)
			return &kr->keys[i];
	return NULL;
}

size_t peer_keyring_count(struct peer_keyring *kr)
{
	keyring_refresh(kr);
	return kr->n + 1;
}
