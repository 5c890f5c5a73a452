/* SPDX-License-Identifier: MIT */
/*
 * errmsg.h - the "*reterr" convention of the parsers: a malloc'ed message next to a negative errno
 *
 * errmsg_set() formats the message; ERRMSG_FAIL() also evaluates to -EINVAL (-ENOMEM when the
 * message cannot be allocated). ERRMSG_FAIL is a macro, not a function, so that clang's analyzer,
 * which does not inline variadic functions, sees that `return ERRMSG_FAIL(...)` is always negative.
 */
#pragma once

#include <errno.h>

/**
 * errmsg_set() - Set *@reterr (if @reterr is not NULL) to a formatted, malloc'ed message
 *
 * Return: 0, or -ENOMEM (then *@reterr is NULL)
 */
int errmsg_set(char **reterr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * errmsg_set_errno() - Replace *@reterr (freed first; @reterr may be NULL) with the formatted
 * message followed by ": strerror(-@r)"
 *
 * Return: @r (the message is NULL when it could not be allocated)
 */
int errmsg_set_errno(char **reterr, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define ERRMSG_FAIL(reterr, ...) (errmsg_set((reterr), __VA_ARGS__) < 0 ? -ENOMEM : -EINVAL)

/* errmsg_set() and evaluate to @r: for a message that already says why (a callee's *reterr),
 * where errmsg_set_errno() would add strerror(-@r) to it a second time */
#define ERRMSG_RET(reterr, r, ...) ((void)errmsg_set((reterr), __VA_ARGS__), (r))
