/* SPDX-License-Identifier: MIT */
/*
 * log.h - logging to stderr, journald-aware
 *
 * Messages go to stderr. When stderr is the journal ($JOURNAL_STREAM matches it) lines carry a
 * "<N>" priority prefix and no timestamp; otherwise they read "wormholed[pid]: LEVEL: message".
 * log_*_errno(r, ...) append ": strerror(-r)" and return r (negative), so errors are logged once,
 * where they stop, and passed on in the same statement.
 */
#pragma once

#include <stdarg.h>
#include <syslog.h>

/**
 * log_setup() - Set the program name and the maximum level printed
 * @ident:	program name used in the prefix (borrowed, must outlive the program)
 * @max_level:	LOG_ERR .. LOG_DEBUG; messages above it are dropped
 */
void log_setup(const char *ident, int max_level);

/**
 * log_set_max_level() - Change the maximum level printed
 * @max_level:	LOG_ERR .. LOG_DEBUG
 */
void log_set_max_level(int max_level);

/**
 * log_get_max_level() - Return: the current maximum level
 */
int log_get_max_level(void);

/**
 * log_internal() - Print one message
 * @level:	syslog priority
 * @error:	negative errno to append, or 0
 * @fmt:	printf format
 *
 * Return: @error (so callers can return it), or 0
 */
int log_internal(int level, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_full_errno(level, error, ...)                                               \
	({                                                                              \
		int _l_ = (level), _e_ = (error);                                       \
		_l_ <= log_get_max_level() ? log_internal(_l_, _e_, __VA_ARGS__) : _e_; \
	})

#define log_debug(...)		  log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)		  log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)		  log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)	  log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)		  log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(r, ...)	  log_full_errno(LOG_DEBUG, (r), __VA_ARGS__)
#define log_info_errno(r, ...)	  log_full_errno(LOG_INFO, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(LOG_WARNING, (r), __VA_ARGS__)
#define log_error_errno(r, ...)	  log_full_errno(LOG_ERR, (r), __VA_ARGS__)
