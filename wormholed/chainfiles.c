/* SPDX-License-Identifier: MIT */
/*
 * chainfiles.c - reading chain files into words (see chainfiles.h)
 *
 * Nothing here creates segments: boot.c validates each file's words with spec_parse() like a
 * `wormhole create`, and creates them. A file is read whole (at most 64 KiB) with O_NOFOLLOW
 * off: a symlink into /etc is how configuration is often managed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chainfiles.h"
#include "cleanup.h"
#include "errmsg.h"
#include "log.h"
#include "spec.h"
#include "strv.h"

#define CHAINFILE_MAX (64u << 10)
#define SUFFIX	      ".chain"

struct buf {
	char *s;
	size_t n, cap;
};

static int buf_add(struct buf *b, char c)
{
	if (b->n + 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char *p = realloc(b->s, cap);

		if (!p)
			return -ENOMEM;
		b->s = p;
		b->cap = cap;
	}
	b->s[b->n++] = c;
	b->s[b->n] = '\0';
	return 0;
}

int chainfile_parse(const char *text, char ***ret_words, unsigned **ret_lines, char **ret_error)
{
	_cleanup_(strv_freep) char **words = NULL;
	_cleanup_free_ unsigned *lines = NULL;
	struct buf w = { 0 };
	size_t n = 0;
	unsigned line = 1, word_line = 0, spec_line = 0;
	bool in_word = false;
	int r;

	*ret_error = NULL;
	if (!text)
		return -EINVAL;
	for (const char *p = text;; p++) {
		char c = *p;

		if (c == '\\' && p[1] == '\n') { /* continuation */
			p++;
			line++;
			continue;
		}
		if (c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    (c == '#' && !in_word)) {
			if (in_word) {
				unsigned *nl = realloc(lines, (n + 1) * sizeof(*lines));

				if (!nl) {
					free(w.s);
					return -ENOMEM;
				}
				lines = nl;
				lines[n] = word_line;
				r = strv_push(&words, &n, w.s ?: strdup(""));
				w = (struct buf){ 0 };
				if (r < 0)
					return r;
				in_word = false;
			}
			if (c == '#')
				while (p[1] && p[1] != '\n')
					p++;
			if (c == '\0')
				break;
			if (c == '\n') {
				if (n > 0 && !spec_line)
					spec_line = line; /* the spec's logical line ended */
				line++;
			}
			continue;
		}
		if (spec_line) {
			free(w.s);
			return errmsg_set(ret_error,
					  "%u: a second spec (one per file; end a line with '\\' "
					  "to continue it)",
					  line)
				       ?: -EINVAL;
		}
		if (!in_word) {
			in_word = true;
			word_line = line;
		}
		if (c == '\'' || c == '"') {
			char q = c;
			unsigned open_line = line;

			for (p++; *p != q; p++) {
				if (*p == '\0') {
					free(w.s);
					return errmsg_set(ret_error, "%u: unterminated %s quote",
							  open_line,
							  q == '\'' ? "single" : "double")
						       ?: -EINVAL;
				}
				if (*p == '\n')
					line++;
				if (q == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				if (buf_add(&w, *p) < 0) {
					free(w.s);
					return -ENOMEM;
				}
			}
			if (!w.s && buf_add(&w, '\0') >= 0) /* '' is an empty word */
				w.n = 0;
			continue;
		}
		if (c == '\\' && p[1]) {
			p++;
			c = *p;
		}
		if (buf_add(&w, c) < 0) {
			free(w.s);
			return -ENOMEM;
		}
	}
	if (n == 0)
		return errmsg_set(ret_error, "%u: no words (an empty chain file)", line) ?: -EINVAL;
	*ret_words = TAKE_PTR(words);
	*ret_lines = TAKE_PTR(lines);
	return 0;
}

static int read_file(int dirfd, const char *name, char **ret)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EISDIR;
	if ((size_t)st.st_size > CHAINFILE_MAX)
		return -EFBIG;
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		return -ENOMEM;
	while (len < (size_t)st.st_size) {
		ssize_t k = read(fd, text + len, (size_t)st.st_size - len);

		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		len += (size_t)k;
	}
	text[len] = '\0';
	if (strlen(text) != len)
		return -EILSEQ; /* a NUL inside */
	*ret = TAKE_PTR(text);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void chainfiles_free(struct chainfile *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++) {
		free(f[i].name);
		free(f[i].path);
		strv_free(f[i].words);
		free(f[i].lines);
	}
	free(f);
}

unsigned chainfile_line_of(const struct chainfile *f, const char *msg)
{
	unsigned long pos;
	char *end;

	if (!msg || strncmp(msg, "word ", 5) != 0)
		return 0;
	pos = strtoul(msg + 5, &end, 10);
	if (end == msg + 5 || pos == 0 || pos > strv_length(f->words))
		return 0;
	return f->lines[pos - 1];
}

int chainfiles_load(const char *dir, struct chainfile **ret, size_t *ret_n, unsigned *ret_skipped)
{
	_cleanup_(strv_freep) char **names = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	struct chainfile *files = NULL;
	size_t n_names = 0, n = 0;
	DIR *dp;
	struct dirent *de;
	int r;

	*ret = NULL;
	*ret_n = 0;
	*ret_skipped = 0;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		if (errno != ENOENT)
			log_warning_errno(-errno, "chain files: cannot open '%s', ignoring", dir);
		return 0;
	}
	dp = fdopendir(fcntl(dirfd, F_DUPFD_CLOEXEC, 3));
	if (!dp)
		return log_warning_errno(-errno, "chain files: cannot read '%s', ignoring", dir), 0;
	while ((de = readdir(dp))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= strlen(SUFFIX) ||
		    strcmp(de->d_name + len - strlen(SUFFIX), SUFFIX) != 0)
			continue;
		if (strv_push_dup(&names, &n_names, de->d_name) < 0) {
			closedir(dp);
			return -ENOMEM;
		}
	}
	closedir(dp);
	if (n_names > 0)
		qsort(names, n_names, sizeof(char *), cmp_name);
	files = calloc(n_names + 1, sizeof(*files));
	if (!files)
		return -ENOMEM;
	for (size_t i = 0; i < n_names; i++) {
		_cleanup_free_ char *text = NULL, *err = NULL, *name = NULL, *path = NULL;
		char **words = NULL;
		unsigned *lines = NULL;

		name = strndup(names[i], strlen(names[i]) - strlen(SUFFIX));
		if (!name || asprintf(&path, "%s/%s", dir, names[i]) < 0) {
			path = NULL;
			chainfiles_free(files, n);
			return -ENOMEM;
		}
		if (!spec_id_valid(name)) {
			log_error("%s: '%s' is not a valid segment id ([A-Za-z0-9._-], up to 64, "
				  "not starting with '-' or '.'), skipping this file",
				  path, name);
			(*ret_skipped)++;
			continue;
		}
		r = read_file(dirfd, names[i], &text);
		if (r < 0) {
			log_error_errno(r, "%s: cannot read it, skipping", path);
			(*ret_skipped)++;
			continue;
		}
		r = chainfile_parse(text, &words, &lines, &err);
		if (r == -ENOMEM) {
			chainfiles_free(files, n);
			return r;
		}
		if (r < 0) {
			log_error("%s:%s, skipping this file", path, err ?: " cannot parse");
			(*ret_skipped)++;
			continue;
		}
		files[n++] = (struct chainfile){
			.name = TAKE_PTR(name),
			.path = TAKE_PTR(path),
			.words = words,
			.lines = lines,
		};
	}
	*ret = files;
	*ret_n = n;
	return 0;
}
