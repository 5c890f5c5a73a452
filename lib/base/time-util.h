/* SPDX-License-Identifier: MIT */
/*
 * time-util.h - the one monotonic clock reading of the tree, in microseconds
 */
#pragma once

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
