/* SPDX-License-Identifier: MIT */
/*
 * errmsg.c - formatting the messages that travel next to a negative errno
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"

int errmsg_set(char **reterr, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (!reterr)
		return 0;
	va_start(ap, fmt);
	r = vasprintf(reterr, fmt, ap);
	va_end(ap);
	if (r < 0) {
		*reterr = NULL;
		return -ENOMEM;
	}
	return 0;
}

int errmsg_set_errno(char **reterr, int r, const char *fmt, ...)
{
	char *m = NULL;
	va_list ap;
	int k;

	if (!reterr)
		return r;
	va_start(ap, fmt);
	k = vasprintf(&m, fmt, ap);
	va_end(ap);
	free(*reterr);
	*reterr = NULL;
	if (k >= 0 && asprintf(reterr, "%s: %s", m, strerror(-r)) < 0)
		*reterr = NULL;
	if (k >= 0)
		free(m);
	return r;
}
