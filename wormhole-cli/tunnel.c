/* SPDX-License-Identifier: MIT */
/*
 * tunnel.c - `wormhole tunnel-create [--udp] HOST`, `tunnel-delete HOST`, `tunnel-list [--json]`
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "ctl-proto.h"
#include "url.h"

/* HOST must be a peer daemon address; the daemon resolves it */
static int check_host(const char *cmd, const char *host)
{
	_cleanup_free_ char *err = NULL;
	struct peer_addr pa = { 0 };

	if (peer_addr_parse(host, false, &pa, &err) < 0) {
		fprintf(stderr, "wormhole: %s: '%s': %s\n", cmd, host, err ?: "invalid");
		return -1;
	}
	peer_addr_done(&pa);
	return 0;
}

int cmd_tunnel_create(int argc, char *argv[])
{
	struct ctl_reply rep = { 0 };
	const char *host = NULL;
	bool udp = false;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--udp") == 0)
			udp = true;
		else if (!host && argv[i][0] != '-')
			host = argv[i];
		else {
			fprintf(stderr, "Usage: wormhole tunnel-create [--udp] HOST[:PORT]\n");
			return EXIT_USAGE;
		}
	}
	if (!host) {
		fprintf(stderr, "Usage: wormhole tunnel-create [--udp] HOST[:PORT]\n");
		return EXIT_USAGE;
	}
	if (check_host("tunnel-create", host) < 0)
		return EXIT_USAGE;
	if (cli_call(&(struct ctl_request){ .op = CTL_OP_TUNNEL_CREATE,
					    .host = (char *)(uintptr_t)host,
					    .udp = udp },
		     &rep) < 0)
		return EXIT_FAIL;
	ret = rep.ok && rep.n_tunnels == 1 ? EXIT_OK : EXIT_FAIL;
	if (ret == EXIT_OK)
		printf("%s %s\n", rep.tunnels[0].local_ov ?: "?", rep.tunnels[0].remote_ov ?: "?");
	else
		fprintf(stderr, "wormhole: tunnel-create: %s\n", rep.error ?: "failed");
	ctl_reply_done(&rep);
	return ret;
}

int cmd_tunnel_delete(int argc, char *argv[])
{
	struct ctl_reply rep = { 0 };
	int ret;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "Usage: wormhole tunnel-delete HOST[:PORT]\n");
		return EXIT_USAGE;
	}
	if (check_host("tunnel-delete", argv[1]) < 0)
		return EXIT_USAGE;
	if (cli_call(&(struct ctl_request){ .op = CTL_OP_TUNNEL_DELETE, .host = argv[1] }, &rep) <
	    0)
		return EXIT_FAIL;
	ret = rep.ok ? EXIT_OK : EXIT_FAIL;
	if (!rep.ok)
		fprintf(stderr, "wormhole: tunnel-delete: %s\n", rep.error ?: "failed");
	ctl_reply_done(&rep);
	return ret;
}

int cmd_tunnel_list(int argc, char *argv[])
{
	struct ctl_reply rep = { 0 };
	bool json = false;
	int ret;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json") != 0)) {
		fprintf(stderr, "Usage: wormhole tunnel-list [--json]\n");
		return EXIT_USAGE;
	}
	json = argc == 2;
	if (cli_call(&(struct ctl_request){ .op = CTL_OP_TUNNEL_LIST }, &rep) < 0)
		return EXIT_FAIL;
	ret = rep.ok ? EXIT_OK : EXIT_FAIL;
	if (!rep.ok) {
		fprintf(stderr, "wormhole: tunnel-list: %s\n", rep.error ?: "failed");
	} else if (json) {
		_cleanup_free_ char *doc = NULL;

		if (ctl_tunnels_format_json(rep.tunnels, rep.n_tunnels, true, &doc) < 0)
			ret = EXIT_FAIL;
		else
			fputs(doc, stdout);
	} else {
		printf("%-21s %-15s %-15s %-9s %-8s %-8s %12s %12s %-8s %s\n", "PEER", "LOCAL",
		       "REMOTE", "ENCAP", "OUT-SPI", "IN-SPI", "OUT-BYTES", "IN-BYTES", "STATE",
		       "REKEYS");
		for (size_t i = 0; i < rep.n_tunnels; i++) {
			const struct ctl_tunnel *t = &rep.tunnels[i];

			printf("%-21s %-15s %-15s %-9s %08" PRIx64 " %08" PRIx64 " %12" PRIu64
			       " %12" PRIu64 " %-8s %" PRIu64 "\n",
			       t->peer ?: t->remote ?: "?", t->local_ov ?: "?", t->remote_ov ?: "?",
			       t->encap ?: "?", t->out_spi, t->in_spi, t->out_bytes, t->in_bytes,
			       t->state ?: "?", t->rekeys);
		}
	}
	ctl_reply_done(&rep);
	return ret;
}
