/* SPDX-License-Identifier: MIT */
/*
 * time-util.c - durations as users write them ("90s", "5m", "1h30m", "250ms") and as we print them
 *
 * A duration is one or more NUMBER UNIT pairs, units ms, s, m, h, d; a bare number is seconds.
 * Used by the `idle` word (lib/grammar) and the daemon's display of idle times.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "time-util.h"

static const struct {
	const char *unit;
	uint64_t usec;
} units[] = {
	{ "ms", USEC_PER_MSEC },      { "s", USEC_PER_SEC },	     { "m", 60 * USEC_PER_SEC },
	{ "h", 3600 * USEC_PER_SEC }, { "d", 86400 * USEC_PER_SEC },
};

int duration_parse(const char *s, uint64_t *ret)
{
	uint64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		uint64_t n = 0, mult = 0;
		size_t digits = 0, best = 0;

		while (*s >= '0' && *s <= '9') {
			if (n > UINT64_MAX / 10 / USEC_PER_SEC)
				return -ERANGE;
			n = n * 10 + (uint64_t)(*s++ - '0');
			digits++;
		}
		if (digits == 0)
			return -EINVAL;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].unit);

			/* the longest unit that matches, so "ms" is not "m" + garbage */
			if (l > best && strncmp(s, units[i].unit, l) == 0 &&
			    !(s[l] >= 'a' && s[l] <= 'z')) {
				best = l;
				mult = units[i].usec;
			}
		}
		if (best == 0) {
			if (*s || total != 0)
				return -EINVAL; /* a bare number only alone: "90" */
			mult = USEC_PER_SEC;
		}
		s += best;
		if (n > (UINT64_MAX - total) / mult)
			return -ERANGE;
		total += n * mult;
	}
	*ret = total;
	return 0;
}

char *duration_format(uint64_t usec, char *buf, size_t len)
{
	uint64_t sec = usec / USEC_PER_SEC;

	if (sec < 60)
		(void)snprintf(buf, len, "%us", (unsigned)sec);
	else if (sec < 3600)
		(void)snprintf(buf, len, "%um", (unsigned)(sec / 60));
	else if (sec < 86400)
		(void)snprintf(buf, len, "%uh%um", (unsigned)(sec / 3600),
			       (unsigned)(sec % 3600 / 60));
	else
		(void)snprintf(buf, len, "%ud%uh", (unsigned)(sec / 86400),
			       (unsigned)(sec % 86400 / 3600));
	return buf;
}
