/* SPDX-License-Identifier: MIT */
/*
 * docker-run.c - `docker-run 'ARGS'`: start a container; the head or tail lives in its namespace
 *
 * Not run by this daemon yet (the Docker Engine API client lands with the docker issue); the
 * word is fully syntax-checked by lib/spec.c and refused here before anything is created.
 */
#include "chains.h"

const struct chain_op chain_op_docker_run = {
	.word = "docker-run",
	.unsupported =
		"docker-run is not supported by this wormholed yet (Docker support is pending)",
};
