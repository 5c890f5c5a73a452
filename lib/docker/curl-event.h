/* SPDX-License-Identifier: MIT */
/*
 * curl-event.h - libcurl's multi interface driven by an sd-event loop
 *
 * A curl_event owns one CURLM. curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one
 * sd-event io source per curl socket, created, changed and dropped as curl asks) and when to wake
 * it up (CURLMOPT_TIMERFUNCTION: one one-shot timer). Both handlers call
 * curl_multi_socket_action() and then drain curl_multi_info_read(): each finished transfer is
 * taken out of the multi handle and its done callback runs, outside any curl callback, so the
 * callback may add, remove or clean up easy handles, or free the curl_event itself.
 * Nothing here blocks; easy handles must not use a blocking resolver (unix sockets and IP
 * literals only on the daemon's loop). CURLcode never leaves this module's callers: the done
 * callback gets a negative errno and curl's message.
 */
#pragma once

#include <curl/curl.h>
#include <systemd/sd-event.h>

struct curl_event;

/**
 * curl_event_done_fn - A transfer finished
 * @easy:	the handle, already removed from the multi handle; still owned by the caller
 * @r:		0, or a negative errno (-ETIMEDOUT, -ECONNREFUSED, -ENOENT for a missing unix
 *		socket, -ECONNRESET, -ECANCELED when a write callback aborted, -EIO otherwise)
 * @error:	NULL when @r is 0, else curl's message (borrowed for the call)
 * @userdata:	as given to curl_event_add()
 */
typedef void (*curl_event_done_fn)(CURL *easy, int r, const char *error, void *userdata);

/**
 * curl_event_new() - Make a curl multi handle driven by @e
 * @e:		the loop (a reference is taken)
 * @ret:	set on success; release with curl_event_free()
 *
 * Return: 0, -ENOMEM
 */
int curl_event_new(sd_event *e, struct curl_event **ret);

/**
 * curl_event_free() - Drop all transfers (no done callbacks) and free; NULL is fine
 *
 * May be called from a done callback. Easy handles stay owned by their callers.
 *
 * Return: NULL
 */
struct curl_event *curl_event_free(struct curl_event *ce);

/**
 * curl_event_add() - Start a transfer
 * @ce:		the multi
 * @easy:	a configured easy handle (borrowed; it must outlive the transfer). Its
 *		CURLOPT_PRIVATE belongs to curl_event while it is added.
 * @done:	called once when the transfer ends (not if it is removed first)
 * @userdata:	for @done
 *
 * Must not be called from inside a curl callback (write, header, ...).
 *
 * Return: 0, -ENOMEM, -EINVAL
 */
int curl_event_add(struct curl_event *ce, CURL *easy, curl_event_done_fn done, void *userdata);

/**
 * curl_event_remove() - Abort a transfer without calling its done callback
 *
 * Must not be called from inside a curl callback. Removing a handle that is not (or no longer)
 * added does nothing.
 */
void curl_event_remove(struct curl_event *ce, CURL *easy);
