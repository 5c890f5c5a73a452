/* SPDX-License-Identifier: MIT */
/*
 * control-show.h - what the control server says about segments: a list row, and `show`
 */
#pragma once

struct ctl_reply;
struct ctl_segment_info;
struct daemon;
struct segment;

/**
 * control_segment_info() - The list row of @s (borrowed): ids, head, tail, state, counters
 * @i:		filled even on failure; release with ctl_segment_info_done()
 * Return: 0, -ENOMEM
 */
int control_segment_info(const struct segment *s, struct ctl_segment_info *i);

/**
 * control_show() - The reply to {"op":"show","id":...}: the segment, its descendants, and the
 * TCP connections of all of them (at most CTL_SHOW_CONNS; conns_more counts the rest)
 * @ret:	on 0 (ok may be false: no such segment); release with ctl_reply_done()
 * Return: 0, -ENOMEM
 */
int control_show(struct daemon *d, const char *id, struct ctl_reply *ret);
