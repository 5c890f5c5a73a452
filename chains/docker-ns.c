/* SPDX-License-Identifier: MIT */
/*
 * docker-ns.c - `docker-ns C`: the head or tail lives in container C's network namespace
 *
 * Not run by this daemon yet (the Docker Engine API client lands with the docker issue); the
 * word is fully syntax-checked by lib/spec.c and refused here before anything is created.
 */
#include "chains.h"

const struct chain_op chain_op_docker_ns = {
	.word = "docker-ns",
	.unsupported =
		"docker-ns is not supported by this wormholed yet (Docker support is pending)",
};
