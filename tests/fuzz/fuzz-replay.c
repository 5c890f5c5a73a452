/* SPDX-License-Identifier: MIT */
/*
 * fuzz-replay.c - run a libFuzzer target over files, for builds without libFuzzer
 *
 * Each argument is a file or a directory of files; every file is fed once to
 * LLVMFuzzerTestOneInput(). A crash, sanitizer report or abort() fails the test; an argument that
 * cannot be read fails it too, so a moved corpus is not silently skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t n = 0, cap = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	for (;;) {
		size_t k;

		if (n == cap) {
			char *nb = realloc(buf, cap ? cap * 2 : 4096);

			if (!nb) {
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
			cap = cap ? cap * 2 : 4096;
		}
		k = fread(buf + n, 1, cap - n, f);
		n += k;
		if (k == 0)
			break;
	}
	fclose(f);
	return LLVMFuzzerTestOneInput((const uint8_t *)buf, n);
}

int main(int argc, char **argv)
{
	unsigned count = 0;

	for (int i = 1; i < argc; i++) {
		struct dirent *de;
		struct stat st;
		DIR *d;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return EXIT_FAILURE;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) < 0) {
				fprintf(stderr, "%s: cannot read\n", argv[i]);
				return EXIT_FAILURE;
			}
			count++;
			continue;
		}
		d = opendir(argv[i]);
		if (!d) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return EXIT_FAILURE;
		}
		while ((de = readdir(d))) {
			_cleanup_free_ char *p = NULL;

			if (de->d_name[0] == '.')
				continue;
			if (asprintf(&p, "%s/%s", argv[i], de->d_name) < 0) {
				closedir(d);
				return EXIT_FAILURE;
			}
			if (run_file(p) < 0) {
				fprintf(stderr, "%s: cannot read\n", p);
				closedir(d);
				return EXIT_FAILURE;
			}
			count++;
		}
		closedir(d);
	}
	printf("replayed %u inputs\n", count);
	return count > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
