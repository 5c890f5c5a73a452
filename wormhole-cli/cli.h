/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the CLI's commands share: the daemon address and one request/reply round trip
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ctl_reply;
struct ctl_request;

/* Exit statuses: 0 ok, 1 failed, 2 usage */
#define EXIT_OK	   0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

extern const char *cli_ctl_path;  /* the daemon's control socket */
extern const char *cli_peer_host; /* -H tcp://HOST[:PORT]: a remote daemon over a peer link */
extern uint16_t cli_peer_port;
extern const char *cli_key_path; /* -K PATH */

struct cli_peer;

/**
 * cli_peer_connect() - Dial cli_peer_host with the key at cli_key_path and open a control
 * stream (the handshake completes while the first request waits for its reply)
 * @ret:	on success only; free with cli_peer_free()
 * Return: 0 or a negative errno after printing why on stderr
 */
int cli_peer_connect(struct cli_peer **ret);
struct cli_peer *cli_peer_free(struct cli_peer *cp);
/* cli_peer_write(): 0 or -errno; cli_peer_read(): bytes, 0 at EOF, -errno (why printed) */
int cli_peer_write(struct cli_peer *cp, const void *buf, size_t len);
ssize_t cli_peer_read(struct cli_peer *cp, void *buf, size_t len, uint64_t timeout_usec);
bool cli_peer_is_up(const struct cli_peer *cp);

/**
 * cli_call() - Send @req to the daemon and read its final reply (progress lines go to stderr)
 * @ret:	the reply on success only (ok may be false); release with ctl_reply_done()
 *
 * Return: 0, or a negative errno after printing why on stderr (daemon not running, refused)
 */
int cli_call(const struct ctl_request *req, struct ctl_reply *ret);

struct ctl_segment_info;

/**
 * cli_print_segments() - The segment table of `list` and `show` on stdout
 * @legend:	print the header line
 */
void cli_print_segments(const struct ctl_segment_info *segs, size_t n, bool legend);

/**
 * cli_human_bytes() - @v as "512B", "1.5K", "3.2M", ... into @buf
 */
void cli_human_bytes(uint64_t v, char *buf, size_t len);

int cmd_create(int argc, char *argv[]);
int cmd_delete(int argc, char *argv[]);
int cmd_keygen(int argc, char *argv[]);
int cmd_link(int argc, char *argv[]); /* also unlink */
int cmd_list(int argc, char *argv[]);
int cmd_ping(int argc, char *argv[]);
int cmd_show(int argc, char *argv[]);
int cmd_version(int argc, char *argv[]);
int cmd_tunnel_create(int argc, char *argv[]);
int cmd_tunnel_delete(int argc, char *argv[]);
int cmd_tunnel_list(int argc, char *argv[]);
