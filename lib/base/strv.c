/* SPDX-License-Identifier: MIT */
/*
 * strv.c - NULL-terminated string arrays, shared by the parsers and the Docker client
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

char **strv_free(char **l)
{
	if (!l)
		return NULL;
	for (char **p = l; *p; p++)
		free(*p);
	free(l);
	return NULL;
}

void strv_freep(char ***l)
{
	*l = strv_free(*l);
}

int strv_push(char ***l, size_t *n, char *s)
{
	char **nl;

	if (!s)
		return -ENOMEM;
	nl = realloc(*l, (*n + 2) * sizeof(char *));
	if (!nl) {
		free(s);
		return -ENOMEM;
	}
	nl[(*n)++] = s;
	nl[*n] = NULL;
	*l = nl;
	return 0;
}

int strv_push_dup(char ***l, size_t *n, const char *s)
{
	return strv_push(l, n, strdup(s));
}

size_t strv_length(char *const *l)
{
	size_t n = 0;

	while (l && l[n])
		n++;
	return n;
}
