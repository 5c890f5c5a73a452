/* SPDX-License-Identifier: MIT */
/*
 * time-util.h - the one monotonic clock reading of the tree, in microseconds; durations
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define USEC_PER_SEC  1000000ULL
#define USEC_PER_MSEC 1000ULL

static inline uint64_t now_usec(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/**
 * duration_parse() - Parse "90s", "5m", "1h30m", "250ms", "2d" or a bare number of seconds
 * @ret:	microseconds, on success only
 *
 * Return: 0, -EINVAL (not a duration), -ERANGE (too long)
 */
int duration_parse(const char *s, uint64_t *ret);

/**
 * duration_format() - "42s", "3m", "2h5m", "1d2h" (rounded down) into @buf (borrowed)
 * Return: @buf
 */
char *duration_format(uint64_t usec, char *buf, size_t len);
