/* SPDX-License-Identifier: MIT */
/*
 * log.c - stderr logging with journald priority prefixes when stderr is the journal
 *
 * One write(2) per message so concurrent writers (tests capture several daemons into one file)
 * never interleave within a line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "wormhole";
static int log_max_level = LOG_INFO;
static int log_to_journal = -1;

void log_setup(const char *ident, int max_level)
{
	log_ident = ident;
	log_max_level = max_level;
	log_to_journal = -1;
}

void log_set_max_level(int max_level)
{
	log_max_level = max_level;
}

int log_get_max_level(void)
{
	return log_max_level;
}

/* A decimal number ending at @stop; *ret_end points at @stop. No sign, no blanks, no overflow. */
static bool parse_ull(const char *s, char stop, unsigned long long *ret, const char **ret_end)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != stop)
		return false;
	*ret = v;
	*ret_end = end;
	return true;
}

static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM"), *p;
	unsigned long long dev, ino;
	struct stat st;

	/* "DEV:INO", as systemd.exec(5) sets it */
	if (!e || !parse_ull(e, ':', &dev, &p) || !parse_ull(p + 1, '\0', &ino, &p))
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

static const char *level_name(int level)
{
	static const char *const names[] = { "EMERG", "ALERT",	"CRIT", "ERROR",
					     "WARN",  "NOTICE", "INFO", "DEBUG" };
	return level >= 0 && level <= 7 ? names[level] : "?";
}

int log_internal(int level, int error, const char *fmt, ...)
{
	char buf[2048];
	int saved = errno;
	size_t n = 0;
	va_list ap;
	int k;

	if (log_to_journal < 0)
		log_to_journal = stderr_is_journal();

	if (log_to_journal) {
		k = snprintf(buf, sizeof(buf), "<%d>", level);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		k = snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld %s[%d]: %s: ", tm.tm_hour,
			     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_ident, (int)getpid(),
			     level_name(level));
	}
	n = k > 0 ? (size_t)k : 0;

	va_start(ap, fmt);
	k = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (k > 0)
		n += (size_t)k;
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	if (error != 0) {
		k = snprintf(buf + n, sizeof(buf) - n, ": %s",
			     strerror(error < 0 ? -error : error));
		if (k > 0)
			n += (size_t)k;
		if (n > sizeof(buf) - 2)
			n = sizeof(buf) - 2;
	}
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, n);
	errno = saved;
	return error < 0 ? error : -error;
}
