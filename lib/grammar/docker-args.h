/* SPDX-License-Identifier: MIT */
/*
 * docker-args.h - the argument of `docker-run`: "[docker run flags] IMAGE [CMD...]"
 *
 * The word is split like a POSIX shell word list (whitespace separates; '...' and "..." quote;
 * backslash escapes; no expansions), then parsed as `docker run` would: flags before the image,
 * everything after the image is the command. Supported flags: --name, -e/--env, -v/--volume,
 * -l/--label, -w/--workdir, -u/--user, --entrypoint, --network (alias --net), --init, --rm, in
 * both "--flag value" and "--flag=value" forms. Any other flag is an error naming it.
 */
#pragma once

#include <stdbool.h>

struct docker_run_args {
	char *name;	  /* --name, NULL if not given */
	char **env;	  /* -e, NULL-terminated, NULL if none */
	char **volumes;	  /* -v */
	char **labels;	  /* -l, "key=value" (a bare "key" means "key=") */
	char *workdir;	  /* -w */
	char *user;	  /* -u */
	char *entrypoint; /* --entrypoint; "" clears the image's entrypoint */
	char *network;	  /* --network */
	bool init;	  /* --init */
	bool rm;	  /* --rm (accepted; wormhole removes its containers anyway) */
	char *image;	  /* never NULL after a successful parse */
	char **cmd;	  /* NULL-terminated, NULL if none */
};

/**
 * docker_run_args_parse() - Split and parse a docker-run argument
 * @s:		the word (borrowed)
 * @ret:	filled on success only; release with docker_run_args_done()
 * @reterr:	on -EINVAL, a malloc'ed message ("unsupported docker-run flag '--privileged'",
 *		"missing image", "unterminated quote")
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int docker_run_args_parse(const char *s, struct docker_run_args *ret, char **reterr);

/**
 * docker_run_args_done() - Free everything in @a and zero it (a zeroed struct is fine)
 */
void docker_run_args_done(struct docker_run_args *a);

/**
 * docker_ref_valid() - Whether @s can name a container: a name ([A-Za-z0-9][A-Za-z0-9_.-]*,
 * optionally with a leading '/') or an id prefix (hex), at most 128 chars
 */
bool docker_ref_valid(const char *s);
