/* SPDX-License-Identifier: MIT */
/*
 * strv.h - NULL-terminated arrays of malloc'ed strings
 */
#pragma once

#include <stddef.h>

/**
 * strv_free() - Free every string and the array (NULL is fine). Return: NULL
 */
char **strv_free(char **l);
void strv_freep(char ***l);

/**
 * strv_push() - Append @s to *@l, which holds *@n strings (NULL-terminated after)
 * @s:		malloc'ed; ownership passes to the array, also on failure (then it is freed).
 *		NULL is taken for a failed allocation by the caller: -ENOMEM.
 *
 * Return: 0, -ENOMEM
 */
int strv_push(char ***l, size_t *n, char *s);

/**
 * strv_push_dup() - strv_push() a copy of @s (borrowed). Return: 0, -ENOMEM
 */
int strv_push_dup(char ***l, size_t *n, const char *s);

/**
 * strv_length() - Return: the number of strings in @l (NULL: 0)
 */
size_t strv_length(char *const *l);
