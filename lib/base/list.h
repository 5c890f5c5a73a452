/* SPDX-License-Identifier: MIT */
/*
 * list.h - intrusive doubly linked lists (the systemd list.h idiom)
 *
 * An item type carries `type *name##_prev, *name##_next` fields made by LIST_FIELDS(type, name);
 * the list itself is a head pointer. Several lists can run through one item under different
 * names. Removal is O(1) and leaves the item's fields NULL, so "am I on a list" is a NULL check
 * on the head-side fields plus the head itself.
 */
#pragma once

#include <stddef.h>

#define LIST_FIELDS(t, name) t *name##_next, *name##_prev

#define LIST_PREPEND(name, head, item)                              \
	do {                                                        \
		typeof(*(head)) **_head = &(head), *_item = (item); \
		if ((_item->name##_next = *_head))                  \
			_item->name##_next->name##_prev = _item;    \
		_item->name##_prev = NULL;                          \
		*_head = _item;                                     \
	} while (0)

/* O(n) to find the end: for lists that stay short or append rarely; keep a tail pointer else */
#define LIST_APPEND(name, head, item)                                          \
	do {                                                                   \
		typeof(*(head)) **_hd = &(head), *_it = (item), *_last = *_hd; \
		if (!_last) {                                                  \
			LIST_PREPEND(name, *_hd, _it);                         \
			break;                                                 \
		}                                                              \
		while (_last->name##_next)                                     \
			_last = _last->name##_next;                            \
		_it->name##_next = NULL;                                       \
		_it->name##_prev = _last;                                      \
		_last->name##_next = _it;                                      \
	} while (0)

#define LIST_REMOVE(name, head, item)                                         \
	do {                                                                  \
		typeof(*(head)) **_head = &(head), *_item = (item);           \
		if (_item->name##_next)                                       \
			_item->name##_next->name##_prev = _item->name##_prev; \
		if (_item->name##_prev)                                       \
			_item->name##_prev->name##_next = _item->name##_next; \
		else if (*_head == _item)                                     \
			*_head = _item->name##_next;                          \
		_item->name##_next = _item->name##_prev = NULL;               \
	} while (0)

#define LIST_FOREACH(name, i, head) for ((i) = (head); (i); (i) = (i)->name##_next)

/* safe against removing (and freeing) @i in the body */
#define LIST_FOREACH_SAFE(name, i, n, head) \
	for ((i) = (head); (i) && (((n) = (i)->name##_next), 1); (i) = (n))
