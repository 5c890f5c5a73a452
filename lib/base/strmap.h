/* SPDX-License-Identifier: MIT */
/*
 * strmap.h - a hash map from strings to pointers (chained, grows by doubling)
 *
 * Keys are borrowed: the caller keeps each key alive and unchanged while it is in the map
 * (typically the key is a field of the value). Lookups, inserts and removals are O(1) on
 * average; the hash is FNV-1a, salted per map from getrandom() so that names chosen by a client
 * cannot all land in one bucket.
 */
#pragma once

#include <stddef.h>

struct strmap;

/**
 * strmap_new() - An empty map. Return: 0, -ENOMEM; @ret on success only
 */
int strmap_new(struct strmap **ret);

/**
 * strmap_free() - Free the map (not the keys or values). NULL is fine. Return: NULL
 */
struct strmap *strmap_free(struct strmap *m);

/**
 * strmap_get() - Return: the value stored under @key, or NULL
 */
void *strmap_get(const struct strmap *m, const char *key);

/**
 * strmap_put() - Store @value under @key (borrowed)
 * Return: 0, -EEXIST if @key is already there (nothing changed), -ENOMEM
 */
int strmap_put(struct strmap *m, const char *key, void *value);

/**
 * strmap_remove() - Remove @key. Return: its value, or NULL if it was not there
 */
void *strmap_remove(struct strmap *m, const char *key);

/**
 * strmap_size() - Return: the number of entries
 */
size_t strmap_size(const struct strmap *m);
