/* SPDX-License-Identifier: MIT */
/*
 * strmap.c - string-keyed hash map: FNV-1a with a per-map salt, chained buckets, doubling
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "strmap.h"

struct entry {
	const char *key;
	void *value;
	struct entry *next;
};

struct strmap {
	struct entry **buckets;
	size_t n_buckets; /* a power of two */
	size_t size;
	uint64_t salt;
};

static uint64_t hash(const struct strmap *m, const char *key)
{
	uint64_t h = 14695981039346656037ULL ^ m->salt;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

int strmap_new(struct strmap **ret)
{
	struct strmap *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->n_buckets = 16;
	m->buckets = calloc(m->n_buckets, sizeof(*m->buckets));
	if (!m->buckets) {
		free(m);
		return -ENOMEM;
	}
	if (getrandom(&m->salt, sizeof(m->salt), GRND_NONBLOCK) != sizeof(m->salt))
		m->salt = (uint64_t)(uintptr_t)m; /* no entropy yet: still varies per run (ASLR) */
	*ret = m;
	return 0;
}

struct strmap *strmap_free(struct strmap *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->n_buckets; i++)
		for (struct entry *e = m->buckets[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(m->buckets);
	free(m);
	return NULL;
}

static struct entry **find(const struct strmap *m, const char *key)
{
	struct entry **p = &m->buckets[hash(m, key) & (m->n_buckets - 1)];

	for (; *p; p = &(*p)->next)
		if (strcmp((*p)->key, key) == 0)
			return p;
	return p;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct entry *e = *find(m, key);

	return e ? e->value : NULL;
}

static void grow(struct strmap *m)
{
	size_t n = m->n_buckets * 2;
	struct entry **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < m->n_buckets; i++)
		for (struct entry *e = m->buckets[i], *next; e; e = next) {
			size_t k = hash(m, e->key) & (n - 1);

			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = n;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	struct entry **p = find(m, key), *e;

	if (*p)
		return -EEXIST;
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	*e = (struct entry){ .key = key, .value = value };
	*p = e;
	if (++m->size > m->n_buckets)
		grow(m);
	return 0;
}

void *strmap_remove(struct strmap *m, const char *key)
{
	struct entry **p = find(m, key), *e = *p;
	void *v;

	if (!e)
		return NULL;
	*p = e->next;
	v = e->value;
	free(e);
	m->size--;
	return v;
}

size_t strmap_size(const struct strmap *m)
{
	return m->size;
}
