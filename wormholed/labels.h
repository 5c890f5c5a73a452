/* SPDX-License-Identifier: MIT */
/*
 * labels.h - wormholed --docker-labels: containers publish themselves (wormhole.publish=...)
 */
#pragma once

struct daemon;
struct labels;
struct peer_server;

/**
 * labels_new() - Follow Docker's event stream for containers labelled wormhole.publish and keep
 * one segment per published item while each runs; containers running now are picked up too
 * @d:		the daemon (borrowed; its Docker client is used)
 * @ps:		the peer server (borrowed, outlives the labels), NULL without a peer key: the
 *		label wormhole.publish.remote=HOST publishes through HOST, and is refused without
 * @ret:	on success only; release with labels_free()
 *
 * Return: 0, -ENOMEM
 */
int labels_new(struct daemon *d, struct peer_server *ps, struct labels **ret);

/**
 * labels_free() - Stop following; the published segments stay until the daemon frees them,
 * those on peers are deleted there now. NULL is fine. Return: NULL
 */
struct labels *labels_free(struct labels *l);
