/* SPDX-License-Identifier: MIT */
/*
 * labels.h - wormholed --docker-labels: containers publish themselves (wormhole.publish=...)
 */
#pragma once

struct daemon;
struct labels;

/**
 * labels_new() - Follow Docker's event stream for containers labelled wormhole.publish and keep
 * one segment per published item while each runs; containers running now are picked up too
 * @d:		the daemon (borrowed; its Docker client is used)
 * @ret:	on success only; release with labels_free()
 *
 * Return: 0, -ENOMEM
 */
int labels_new(struct daemon *d, struct labels **ret);

/**
 * labels_free() - Stop following; the published segments stay until the daemon frees them.
 * NULL is fine. Return: NULL
 */
struct labels *labels_free(struct labels *l);
