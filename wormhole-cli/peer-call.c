/* SPDX-License-Identifier: MIT */
/*
 * peer-call.c - the CLI's way to a remote daemon: one peer link (TLS 1.3 PSK, HTTP/2) to
 * host:port and one "/ctl" stream on it, driven by a private sd-event loop while the CLI waits;
 * `wormhole keygen`
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "h2-link.h"
#include "key-rules.h"
#include "link-manager.h"
#include "peer-key.h"
#include "stream.h"

const char *cli_peer_host; /* -H tcp://HOST[:PORT]; NULL: the control socket */
uint16_t cli_peer_port;	   /* 0: the default */
const char *cli_key_path;  /* -K; NULL: the default */

struct cli_peer {
	sd_event *e;
	struct peer_manager *m;
	struct peer *p;
	struct stream *st;
	char *why; /* the link's failure, for the message */
	bool up;
};

static void on_link_event(struct peer_manager *m, struct h2_link *l, const char *peer, bool dialed,
			  bool up, int error, const char *reason, void *userdata)
{
	struct cli_peer *cp = userdata;

	if (up) {
		cp->up = true;
		return;
	}
	free(cp->why);
	cp->why = strdup(reason ?: strerror(-error));
}

static const struct peer_manager_ops cli_ops = { .link_event = on_link_event };

struct cli_peer *cli_peer_free(struct cli_peer *cp)
{
	if (!cp)
		return NULL;
	stream_free(cp->st);
	peer_unref(cp->p);
	peer_manager_free(cp->m);
	sd_event_unref(cp->e);
	free(cp->why);
	free(cp);
	return NULL;
}

int cli_peer_connect(struct cli_peer **ret)
{
	const char *path = cli_key_path ?: WORMHOLE_KEYFILE;
	_cleanup_free_ char *err = NULL;
	struct cli_peer *cp;
	struct peer_key key;
	int r;

	r = peer_key_load(path, &key, &err);
	if (r < 0) {
		fprintf(stderr, "wormhole: a key is needed to reach a remote daemon: %s\n",
			err ?: strerror(-r));
		return r;
	}
	cp = calloc(1, sizeof(*cp));
	if (!cp) {
		peer_key_wipe(&key);
		return -ENOMEM;
	}
	r = sd_event_new(&cp->e);
	if (r >= 0)
		r = peer_manager_new(cp->e, &key, &cli_ops, cp, &cp->m);
	peer_key_wipe(&key);
	if (r >= 0)
		r = peer_manager_get(cp->m, cli_peer_host, cli_peer_port, &cp->p, &err);
	if (r >= 0)
		r = peer_open(cp->p, "/ctl", &cp->st);
	if (r < 0) {
		fprintf(stderr, "wormhole: cannot reach wormholed at %s: %s\n", cli_peer_host,
			err ?: strerror(-r));
		cli_peer_free(cp);
		return r;
	}
	*ret = cp;
	return 0;
}

int cli_peer_write(struct cli_peer *cp, const void *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = cp->st->ops->write(cp->st, buf, len);

		if (n == -EAGAIN) {
			(void)sd_event_run(cp->e, 100 * 1000);
			continue;
		}
		if (n < 0)
			return (int)n;
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t cli_peer_read(struct cli_peer *cp, void *buf, size_t len, uint64_t timeout_usec)
{
	for (uint64_t waited = 0;;) {
		ssize_t n = cp->st->ops->read(cp->st, buf, len);

		if (n != -EAGAIN) {
			/* the link's reason comes one loop iteration after its streams fail */
			for (int i = 0; n < 0 && !cp->why && i < 3; i++)
				(void)sd_event_run(cp->e, 0);
			if (n < 0 && cp->why)
				fprintf(stderr, "wormhole: the link to %s failed: %s\n",
					peer_name(cp->p), cp->why);
			return n;
		}
		if (waited >= timeout_usec)
			return -ETIMEDOUT;
		(void)sd_event_run(cp->e, 100 * 1000);
		waited += 100 * 1000; /* at most; a busy link only makes it longer */
	}
}

bool cli_peer_is_up(const struct cli_peer *cp)
{
	return cp->up;
}

int cmd_keygen(int argc, char *argv[])
{
	const char *path = NULL, *allow = NULL, *id = NULL;
	_cleanup_(key_rules_freep) struct key_rules *kr = NULL;
	_cleanup_free_ char *err = NULL, *defid = NULL;

	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "--allow") == 0 || strcmp(argv[i], "--id") == 0) &&
		    i + 1 < argc) {
			*(argv[i][2] == 'a' ? &allow : &id) = argv[i + 1];
			i++;
		} else if (argv[i][0] != '-' && !path) {
			path = argv[i];
		} else {
			fprintf(stderr,
				"Usage: wormhole keygen [--allow RULES [--id ID]] [PATH]   "
				"(default "
				"%s)\n",
				WORMHOLE_KEYFILE);
			return strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0
				       ? EXIT_OK
				       : EXIT_USAGE;
		}
	}
	path = path ?: WORMHOLE_KEYFILE;
	if (allow && key_rules_parse(allow, &kr, &err) < 0) {
		fprintf(stderr, "wormhole: keygen: --allow: %s\n", err ?: "invalid");
		return EXIT_USAGE;
	}
	if (allow && !id) { /* a scoped key needs an identity: its file name */
		const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

		defid = strndup(base, strcspn(base, "."));
		if (!defid)
			return EXIT_FAIL;
		id = defid;
	}
	if (id &&
	    (!id[0] || strlen(id) >= PEER_KEY_ID_MAX || strcmp(id, PEER_KEY_DEFAULT_ID) == 0 ||
	     strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
		     strlen(id))) {
		fprintf(stderr,
			"wormhole: keygen: --id '%s': letters, digits, '-', '_', '.' (not "
			"'%s')\n",
			id, PEER_KEY_DEFAULT_ID);
		return EXIT_USAGE;
	}
	if (peer_key_generate_scoped(path, id, allow, &err) < 0) {
		fprintf(stderr, "wormhole: keygen: %s\n", err ?: "failed");
		return EXIT_FAIL;
	}
	printf("%s\n", path);
	return EXIT_OK;
}
