/* SPDX-License-Identifier: MIT */
/*
 * containers.h - the daemon's side of Docker: one Engine API client, orphan clean-up, and
 * following the containers that segments live in
 *
 * A segment endpoint inside a container (docker-ns, docker-run) registers a watch. The daemon
 * follows Docker's event stream: when the container dies the endpoint goes down (new connections
 * to a tail inside it are refused and logged; a head inside it stops listening), and when it
 * starts again (`docker restart`: a new pid, a new namespace) the endpoint takes the new namespace
 * and a head listens again, with no user action. After the stream broke (dockerd restarted)
 * every watch is re-inspected.
 */
#pragma once

#include <stdbool.h>

struct daemon;
struct docker;
struct endpoint;
struct segment;

struct container_watch;

/**
 * containers_init() - Create the Docker client (nothing is connected yet)
 *
 * Return: 0 or -ENOMEM
 */
int containers_init(struct daemon *d);

/**
 * containers_sweep() - If an engine answers, remove the containers an earlier run of this daemon
 * left behind (label wormhole.daemon=<d->instance>, the daemon id) and that no segment of this
 * run follows. Call it only while holding the daemon id's lock (wormholed/state.c): then the
 * run that started them provably is gone. While restored segments are still adopting
 * (d->restores_pending) it only marks the sweep as wanted: containers_restores_done() runs it.
 * A sweep that answers while a segment applies words lists again 0.5 s later (bounded).
 *
 * Return: 0 or -ENOMEM
 */
int containers_sweep(struct daemon *d);

/**
 * containers_restores_done() - The last restored segment finished adopting (segment.c): run the
 * sweep if containers_sweep() asked for it
 */
void containers_restores_done(struct daemon *d);

/**
 * containers_free() - Cancel the event stream and free the client (pending removals are
 * abandoned: call containers_drained() until true first)
 */
void containers_free(struct daemon *d);

/**
 * containers_drained() - Return: whether no Docker request (a removal) is in flight
 */
bool containers_drained(struct daemon *d);

/**
 * containers_labels() - The labels every container wormhole starts for @s carries:
 * wormhole.segment=<id>, wormhole.daemon=<daemon id> and, with @word, wormhole.word=<word>
 * (which word of the segment started it: a restore adopts it by these three)
 * @word:	"init.0", "trig.1", ... (borrowed), or NULL
 * @ret:	NULL-terminated, malloc'ed; free with strv_free()
 *
 * Return: 0 or -ENOMEM
 */
int containers_labels(struct segment *s, const char *word, char ***ret);

/**
 * container_watch_new() - Follow a container for an endpoint of @s
 * @target:	&s->head or &s->tail; its nsfd is replaced on restarts
 * @id, @name:	the container (copied)
 * @pid:	its current pid, whose namespace @target gets now; 0 when @target already holds
 *		it (a child's head copied from its parent's tail)
 * @ret:	the watch on success only; release with container_watch_free()
 *
 * Return: 0, or a negative errno (the namespace could not be opened)
 */
int container_watch_new(struct segment *s, struct endpoint *target, const char *id,
			const char *name, int pid, struct container_watch **ret);

/**
 * container_watch_free() - Stop following. NULL is fine. Return: NULL
 */
struct container_watch *container_watch_free(struct container_watch *w);

/**
 * container_watch_id() - Return: the full container id (borrowed)
 */
const char *container_watch_id(const struct container_watch *w);
