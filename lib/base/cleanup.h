/* SPDX-License-Identifier: MIT */
/*
 * cleanup.h - scope-bound cleanup helpers (the systemd idiom)
 *
 * _cleanup_free_ frees a pointer when it leaves scope, _cleanup_close_ closes a file descriptor,
 * TAKE_PTR()/TAKE_FD() move ownership out of such a variable so the cleanup sees NULL / -EBADF.
 * DEFINE_POINTER_CLEANUP(type, fn) makes fnp() for _cleanup_(fnp) on any pointer type.
 */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)	__attribute__((cleanup(f)))
#define _cleanup_free_	_cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

#define TAKE_PTR(p)                  \
	({                           \
		typeof(p) _p_ = (p); \
		(p) = NULL;          \
		_p_;                 \
	})

#define TAKE_FD(fd)              \
	({                       \
		int _fd_ = (fd); \
		(fd) = -EBADF;   \
		_fd_;            \
	})

#define DEFINE_POINTER_CLEANUP(type, fn)  \
	static inline void fn##p(type *p) \
	{                                 \
		if (*p)                   \
			fn(*p);           \
	}

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}

/* Closes fd if valid, keeps errno, returns -EBADF so callers can write fd = safe_close(fd). */
static inline int safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		(void)close(fd);
		errno = saved;
	}
	return -EBADF;
}

static inline void closep(int *fd)
{
	*fd = safe_close(*fd);
}
