/* SPDX-License-Identifier: MIT */
/*
 * conn-internal.h - what conn.c (connections) and conn-udp.c (UDP sessions) share; not for
 * other files
 */
#pragma once

#include <stdint.h>

struct segment;
struct segment_tail;

/**
 * conn_log_end() - The one line a connection or session ends with: client, tail (@t, or the
 * segment's), the server name if routed, duration, bytes, and why (@error < 0: at notice level,
 * but for a reset)
 */
void conn_log_end(const struct segment *s, const struct segment_tail *t, const char *sni,
		  const char *client, uint64_t start, uint64_t in, uint64_t out, int error,
		  const char *reason);

/**
 * conn_udp_trigger_done() - The trigger of @s ended (@r < 0: failed, @reason): the waiting UDP
 * sessions open their tail or fail
 */
void conn_udp_trigger_done(struct segment *s, int r, const char *reason);
