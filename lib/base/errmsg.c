/* SPDX-License-Identifier: MIT */
/*
 * errmsg.c - formatting the messages that travel next to a negative errno
 */
#include <stdarg.h>
#include <stdio.h>

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
