/* SPDX-License-Identifier: MIT */
/*
 * main.c - wormhole: global options, then one command from the table
 *
 * Exit status: 0 ok, 1 failed (the daemon said no, or could not be reached), 2 usage (a bad
 * command, option or chain spec; nothing was sent to the daemon).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "ctl-proto.h"
#include "url.h"

#define CLI_TIMEOUT_MS (10 * 60 * 1000) /* a create that pulls an image may take minutes */

const char *cli_ctl_path = WORMHOLE_CTL_SOCKET;

/* @usage: the arguments, for `wormhole COMMAND --help` (answered here, without the daemon);
 * NULL: the command answers --help itself (create lists the words of the chain language) */
static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *help;
	const char *usage;
} commands[] = {
	{ "create", cmd_create, "Create a segment chain from WORDS (see `wormhole create --help`)",
	  NULL },
	{ "delete", cmd_delete, "Delete a segment, its connections and its children", "ID" },
	{ "list", cmd_list, "Show segments, their connections, and the peer links (--json)",
	  "[--json[=pretty]] [-q|--quiet] [--no-legend]\n"
	  "  --json[=pretty]  a JSON document {\"segments\":[...],\"links\":[...]} with exact "
	  "byte\n"
	  "                   counts\n"
	  "  -q, --quiet      segment ids only, one a line\n"
	  "  --no-legend      no header lines" },
	{ "show", cmd_show, "One segment, its children and their connections", "ID" },
	{ "link", cmd_link, "Keep a link dialed out to HOST[:PORT] (from behind NAT)",
	  "HOST[:PORT]" },
	{ "unlink", cmd_link, "Stop keeping the link to HOST[:PORT]", "HOST[:PORT]" },
	{ "ping", cmd_ping, "Round trip to the daemon (or to HOST's daemon: ping HOST), in ms",
	  "[HOST[:PORT]]\n"
	  "Prints the round trip in milliseconds: a bare number (\"0.142000\") when stdout is\n"
	  "not a terminal, so scripts can read it; \"0.142 ms\" on a terminal." },
	{ "keygen", cmd_keygen,
	  "Write a new peer key: keygen [--allow RULES [--id ID]] [PATH], mode 0600",
	  "[--allow RULES [--id ID]] [PATH]\n"
	  "Writes a new random peer key to PATH (default " WORMHOLE_KEYFILE "), mode 0600,\n"
	  "and prints PATH; refuses to overwrite an existing file. --allow scopes the key\n"
	  "(see README, scoped keys)." },
	{ "tunnel-create", cmd_tunnel_create,
	  "IPsec tunnel to HOST's daemon: tunnel-create [--udp] HOST; prints the overlay "
	  "addresses",
	  "[--udp] HOST[:PORT]\n"
	  "  --udp  ESP in UDP (through NAT) instead of plain ESP" },
	{ "tunnel-delete", cmd_tunnel_delete, "Remove the tunnel to HOST (both halves)",
	  "HOST[:PORT]" },
	{ "tunnel-list", cmd_tunnel_list, "Show tunnels, SPIs and kernel counters (--json)",
	  "[--json]" },
	{ "version", cmd_version, "Print the CLI's and the daemon's versions", "" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: wormhole [-H unix://PATH | -H tcp://HOST[:PORT] [-K KEY]] COMMAND "
		   "[ARGS...]\n\nCommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
	fprintf(f,
		"\nOptions:\n"
		"  -H unix://PATH  the daemon's control socket (default unix://%s)\n"
		"  -H tcp://HOST[:PORT]\n"
		"                  a remote daemon, over a TLS 1.3 PSK peer link (port %d)\n"
		"  -K PATH         the peer key for tcp:// (default %s)\n"
		"  -h, --help      this text\n"
		"      --version   print the version\n",
		WORMHOLE_CTL_SOCKET, PEER_DEFAULT_PORT, WORMHOLE_KEYFILE);
}

/* One connection to the daemon: the control socket, or a stream on a peer link. */
struct transport {
	int fd;
	struct cli_peer *peer;
};

static int read_line(struct transport *t, char **buf, size_t *len, size_t *used, char **ret_line,
		     size_t *ret_len)
{
	for (;;) {
		char *nl = *used ? memchr(*buf, '\n', *used) : NULL;
		struct pollfd p = { .fd = t->fd, .events = POLLIN };
		ssize_t n;

		if (nl) {
			*ret_line = *buf;
			*ret_len = (size_t)(nl - *buf) + 1;
			return 0;
		}
		if (*used >= CTL_LINE_MAX)
			return -E2BIG;
		if (*used == *len) {
			size_t nlen = *len ? *len * 2 : 4096;
			char *b = realloc(*buf, nlen);

			if (!b)
				return -ENOMEM;
			*buf = b;
			*len = nlen;
		}
		if (t->peer) {
			n = cli_peer_read(t->peer, *buf + *used, *len - *used,
					  CLI_TIMEOUT_MS * 1000ULL);
			if (n < 0)
				return (int)n;
			if (n == 0)
				return -ECONNRESET;
			*used += (size_t)n;
			continue;
		}
		if (poll(&p, 1, CLI_TIMEOUT_MS) == 0)
			return -ETIMEDOUT;
		n = read(t->fd, *buf + *used, *len - *used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		*used += (size_t)n;
	}
}

/* -H tcp://: one link for the whole run (`ping HOST` sends two requests on it) */
static struct cli_peer *peer;

static void peer_cleanup(void)
{
	peer = cli_peer_free(peer);
}

int cli_call(const struct ctl_request *req, struct ctl_reply *ret)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	_cleanup_free_ char *line = NULL, *buf = NULL;
	_cleanup_close_ int fd = -EBADF;
	size_t len = 0, used = 0;
	struct ctl_segment_info *segs = NULL; /* list lines so far */
	size_t n_segs = 0, cap_segs = 0;
	struct ctl_link_info *links = NULL;
	size_t n_links = 0;
	struct transport t = { .fd = -EBADF };
	int r;

	r = ctl_request_format(req, &line);
	if (r < 0) {
		fprintf(stderr, "wormhole: %s\n", strerror(-r));
		return r;
	}
	if (cli_peer_host) {
		if (!peer) {
			r = cli_peer_connect(&peer);
			if (r < 0)
				return r;
		}
		t.peer = peer;
		r = cli_peer_write(peer, line, strlen(line));
		if (r < 0) {
			fprintf(stderr, "wormhole: sending to wormholed: %s\n", strerror(-r));
			return r;
		}
		goto read_reply;
	}
	if (strlen(cli_ctl_path) >= sizeof(un.sun_path)) {
		fprintf(stderr, "wormhole: control socket path too long\n");
		return -ENAMETOOLONG;
	}
	strcpy(un.sun_path, cli_ctl_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
		r = -errno;
		if ((r == -EACCES || r == -EPERM) && geteuid() != 0) {
			fprintf(stderr,
				"wormhole: wormhole needs root: the control socket unix://%s is "
				"root's only (run it as root)\n",
				cli_ctl_path);
			return r;
		}
		fprintf(stderr, "wormhole: cannot reach wormholed at unix://%s: %s%s\n",
			cli_ctl_path, strerror(-r),
			r == -ENOENT || r == -ECONNREFUSED ? " (is wormholed running?)" : "");
		return r;
	}
	for (size_t off = 0, n = strlen(line); off < n;) {
		ssize_t k = send(fd, line + off, n - off, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EPIPE)
			break; /* the daemon may have said why before closing: read it */
		if (k < 0) {
			r = -errno;
			fprintf(stderr, "wormhole: sending to wormholed: %s\n", strerror(-r));
			return r;
		}
		off += (size_t)k;
	}
	t.fd = fd;
read_reply:
	for (;;) {
		_cleanup_free_ char *err = NULL;
		struct ctl_reply rep = { 0 };
		struct ctl_segment_info *ns;
		char *l = NULL;
		size_t ll = 0;

		r = read_line(&t, &buf, &len, &used, &l, &ll);
		if (r < 0) {
			fprintf(stderr, "wormhole: reading the reply of wormholed: %s\n",
				strerror(-r));
			goto out_free_segs;
		}
		r = ctl_reply_parse(l, ll, &rep, &err);
		memmove(buf, buf + ll, used - ll);
		used -= ll;
		if (r < 0) {
			fprintf(stderr, "wormhole: bad reply from wormholed: %s\n",
				err ?: strerror(-r));
			goto out_free_segs;
		}
		if (rep.progress) {
			fprintf(stderr, "%s\n", rep.progress);
			ctl_reply_done(&rep);
			continue;
		}
		if (rep.has_segment) { /* a streamed list: gather the lines until the end line */
			if (n_segs == cap_segs) {
				cap_segs = cap_segs ? cap_segs * 2 : 64;
				ns = realloc(segs, cap_segs * sizeof(*segs));
				if (!ns) {
					ctl_reply_done(&rep);
					r = -ENOMEM;
					fprintf(stderr, "wormhole: %s\n", strerror(-r));
					goto out_free_segs;
				}
				segs = ns;
			}
			segs[n_segs++] = rep.segment;
			rep.segment = (struct ctl_segment_info){ 0 };
			ctl_reply_done(&rep);
			continue;
		}
		if (rep.has_link) {
			struct ctl_link_info *nl = realloc(links, (n_links + 1) * sizeof(*links));

			if (!nl) {
				ctl_reply_done(&rep);
				r = -ENOMEM;
				goto out_free_segs;
			}
			links = nl;
			links[n_links++] = rep.link;
			rep.link = (struct ctl_link_info){ 0 };
			ctl_reply_done(&rep);
			continue;
		}
		if (rep.ok && rep.has_count) {
			if (rep.count != n_segs) {
				fprintf(stderr,
					"wormhole: bad reply from wormholed: %zu segments, "
					"announced %" PRIu64 "\n",
					n_segs, rep.count);
				ctl_reply_done(&rep);
				r = -EBADMSG;
				goto out_free_segs;
			}
			rep.segments = TAKE_PTR(segs);
			rep.n_segments = n_segs;
			rep.has_segments = true;
			rep.links = TAKE_PTR(links);
			rep.n_links = n_links;
			n_links = 0;
		}
		*ret = rep;
		r = 0;
		goto out_free_segs;
	}
out_free_segs:
	for (size_t i = 0; i < n_segs && segs; i++)
		ctl_segment_info_done(&segs[i]);
	free(segs);
	for (size_t i = 0; i < n_links; i++)
		ctl_link_info_done(&links[i]);
	free(links);
	return r;
}

/* "Usage: wormhole NAME ARGS", the one-line help, then the usage's further lines */
static void print_command_help(size_t k)
{
	const char *u = commands[k].usage, *nl = strchr(u, '\n');
	int first = nl ? (int)(nl - u) : (int)strlen(u);

	printf("Usage: wormhole %s%s%.*s\n\n%s\n%s%s", commands[k].name, first ? " " : "", first, u,
	       commands[k].help, nl ? nl + 1 : "", nl ? "\n" : "");
}

/* -h or --help anywhere after the command: chain words and ids never start with '-' */
static bool wants_help(int argc, char *argv[])
{
	for (int k = 1; k < argc; k++)
		if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0)
			return true;
	return false;
}

/* Edit distance with transpositions ("lsit" is 1 from "list"), for words under 32 bytes */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), m[33][33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		m[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		m[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t best = m[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			best = m[i - 1][j] + 1 < best ? m[i - 1][j] + 1 : best;
			best = m[i][j - 1] + 1 < best ? m[i][j - 1] + 1 : best;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    m[i - 2][j - 2] + 1 < best)
				best = m[i - 2][j - 2] + 1;
			m[i][j] = best;
		}
	return m[la][lb];
}

/* The command @s most likely meant: a close spelling, or the first one it begins */
static const char *nearest_command(const char *s)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX, len = strlen(s);

	for (size_t k = 0; k < ELEMENTSOF(commands); k++) {
		size_t d = edit_distance(s, commands[k].name);

		if (len >= 3 && strncmp(commands[k].name, s, len) == 0)
			d = 1;
		if (d < best_d) {
			best_d = d;
			best = commands[k].name;
		}
	}
	return best_d <= (len > 8 ? 3U : len > 5 ? 2U : 1U) ? best : NULL;
}

int main(int argc, char *argv[])
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];

		if (strcmp(a, "-K") == 0 || strcmp(a, "--key") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "wormhole: %s needs a key file\n", a);
				return EXIT_USAGE;
			}
			cli_key_path = argv[i + 1];
			i += 2;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		}
		if (strcmp(a, "--version") == 0) {
			printf("wormhole %s\n", WORMHOLE_VERSION);
			return EXIT_OK;
		}
		if (strcmp(a, "-H") == 0 || strncmp(a, "-H", 2) == 0 ||
		    strncmp(a, "--host=", 7) == 0 || strcmp(a, "--host") == 0) {
			_cleanup_free_ char *err = NULL;
			const char *v;
			struct peer_addr pa = { 0 };

			if (strcmp(a, "-H") == 0 || strcmp(a, "--host") == 0) {
				if (i + 1 >= argc) {
					fprintf(stderr, "wormhole: %s needs an address\n", a);
					return EXIT_USAGE;
				}
				v = argv[++i];
			} else {
				v = a[1] == 'H' ? a + 2 : a + 7;
			}
			if (strncmp(v, "tcp://", 6) == 0)
				v += 6; /* a peer address: host, host:port, [v6]:port */
			if (peer_addr_parse(v, true, &pa, &err) < 0) {
				fprintf(stderr, "wormhole: -H '%s': %s\n", v, err ?: "invalid");
				peer_addr_done(&pa);
				return EXIT_USAGE;
			}
			if (pa.is_unix) {
				cli_ctl_path = strdup(pa.path); /* lives until exit */
				cli_peer_host = NULL;
			} else {
				cli_peer_host = strdup(pa.host[0] ? pa.host : "127.0.0.1");
				cli_peer_port = pa.port;
			}
			if (pa.is_unix ? !cli_ctl_path : !cli_peer_host) {
				peer_addr_done(&pa);
				return EXIT_FAIL;
			}
			peer_addr_done(&pa);
			i++;
			continue;
		}
		fprintf(stderr, "wormhole: unknown option '%s'\n", a);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t k = 0; k < ELEMENTSOF(commands); k++)
		if (strcmp(argv[i], commands[k].name) == 0) {
			int ret;

			if (wants_help(argc - i, argv + i)) {
				if (!commands[k].usage) {
					char *h[] = { argv[i], (char *)(uintptr_t) "--help", NULL };

					return commands[k].fn(2, h);
				}
				print_command_help(k);
				return EXIT_OK;
			}
			/* freed here, not in an atexit handler: OpenSSL's own exit handler,
			 * registered at its first use, would run first and drop the callback
			 * that frees (and wipes) the key held by the TLS context */
			ret = commands[k].fn(argc - i, argv + i);
			peer_cleanup();
			return ret;
		}
	if (strcmp(argv[i], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "wormhole: unknown command '%s'\n", argv[i]);
	{
		const char *near = nearest_command(argv[i]);

		if (near)
			fprintf(stderr, "Did you mean 'wormhole %s'?\n", near);
		fprintf(stderr, "Try 'wormhole --help'.\n");
	}
	return EXIT_USAGE;
}
