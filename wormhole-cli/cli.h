/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the CLI's commands share: the daemon address and one request/reply round trip
 */
#pragma once

#include <stdbool.h>

struct ctl_reply;
struct ctl_request;

/* Exit statuses: 0 ok, 1 failed, 2 usage */
#define EXIT_OK	   0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

extern const char *cli_ctl_path; /* the daemon's control socket */

/**
 * cli_call() - Send @req to the daemon and read its final reply (progress lines go to stderr)
 * @ret:	the reply on success only (ok may be false); release with ctl_reply_done()
 *
 * Return: 0, or a negative errno after printing why on stderr (daemon not running, refused)
 */
int cli_call(const struct ctl_request *req, struct ctl_reply *ret);

int cmd_create(int argc, char *argv[]);
int cmd_delete(int argc, char *argv[]);
int cmd_list(int argc, char *argv[]);
int cmd_ping(int argc, char *argv[]);
int cmd_version(int argc, char *argv[]);
