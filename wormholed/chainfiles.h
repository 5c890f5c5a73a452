/* SPDX-License-Identifier: MIT */
/*
 * chainfiles.h - chain files: /etc/wormhole/chains.d/NAME.chain, one segment with id NAME each
 *
 * A file holds the words of `wormhole create`, written as in a shell: words separated by blanks,
 * '...' and "..." quote (so `docker-run '--network none web'` is one word), '#' starts a
 * comment to the end of the line, and a '\' at the end of a line continues the spec on the next.
 * One spec per file: a second logical line with words is an error. `id` may be left out (the
 * id is NAME) or must say NAME.
 */
#pragma once

#include <stddef.h>

/**
 * chainfile_parse() - Split the text of one chain file into words
 * @text:	the file's contents (borrowed, NUL-terminated)
 * @ret_words:	NULL-terminated, malloc'ed; free with strv_free()
 * @ret_lines:	the line of each word (malloc'ed), for messages
 * @ret_error:	on -EINVAL, a malloc'ed message starting with the line: "3: unterminated quote"
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int chainfile_parse(const char *text, char ***ret_words, unsigned **ret_lines, char **ret_error);

struct chainfile {
	char *name;   /* NAME, the segment id */
	char *path;   /* for messages */
	char **words; /* the spec */
	unsigned *lines;
};

/**
 * chainfiles_load() - Read every DIR/NAME.chain (in name order); a file that cannot be read or
 * parsed, or whose NAME is not a valid id, is logged with file and line and skipped
 * @dir:	borrowed; a missing directory is no error (nothing to load)
 * @ret, @ret_n: the files that parsed; free with chainfiles_free()
 * @ret_skipped: how many files were skipped
 *
 * Return: 0 or -ENOMEM
 */
int chainfiles_load(const char *dir, struct chainfile **ret, size_t *ret_n, unsigned *ret_skipped);

/**
 * chainfile_line_of() - The line of the word a spec_parse() message ("word 3 ...") names, or 0
 */
unsigned chainfile_line_of(const struct chainfile *f, const char *msg);

void chainfiles_free(struct chainfile *f, size_t n);
