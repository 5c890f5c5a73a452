/* SPDX-License-Identifier: MIT */
/*
 * wh-tunnel - drive lib/tunnel across two network namespaces, for the VM test (tests/vm/)
 *
 * Until the peer link carries tunnel requests between two daemons, this tool plays both of them:
 * it opens the netlink sockets of host A's and host B's namespaces and runs exactly the steps the
 * two daemons run (overlay pick and collision check on both hosts, install A's half and B's mirror
 * half, each rolled back on failure, rekey in the order of tunnel.h, remove both halves).
 *
 *   wh-tunnel run NS_A ADDR_A NS_B ADDR_B [--udp] [--rekey SEC] [--cidr CIDR]
 *       create the tunnel, print "READY <A overlay> <B overlay> <reqid>", rekey when due (checked
 *       every second; prints "REKEY n"), and on SIGTERM/SIGINT remove both halves and
 *       print "DELETED"; with --keep, leave the tunnel in place and exit (persistence)
 *   wh-tunnel list NS          print the tunnels found in NS: reqid, overlays, SPIs, encap,
 *                              completeness, and the kernel's byte/packet counters
 *   wh-tunnel clean NS         remove every tunnel of ours found in NS (complete or partial)
 *   wh-tunnel recv IP PORT FILE           accept one TCP connection on IP:PORT, write it to FILE
 *   wh-tunnel send IP PORT FILE [BPS]     send FILE to IP:PORT, at most BPS bytes a second
 * Exit status 0, 1 on failure, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "espinudp.h"
#include "netns.h"
#include "overlay.h"
#include "tunnel-nl.h"
#include "tunnel.h"

struct host {
	const char *ns;
	int nsfd;
	struct tunnel_nl *nl;
	struct tunnel_half h;
	int encap_fd;
};

static int host_open(struct host *x, const char *ns)
{
	int r;

	x->ns = ns;
	x->encap_fd = -EBADF;
	x->nsfd = netns_open_named(ns);
	if (x->nsfd < 0) {
		fprintf(stderr, "wh-tunnel: netns '%s': %s\n", ns, strerror(-x->nsfd));
		return x->nsfd;
	}
	r = tunnel_nl_open(x->nsfd, &x->nl);
	if (r < 0)
		fprintf(stderr, "wh-tunnel: netlink in '%s': %s\n", ns, strerror(-r));
	return r;
}

static void host_close(struct host *x)
{
	x->nl = tunnel_nl_free(x->nl);
	x->nsfd = safe_close(x->nsfd);
	x->encap_fd = safe_close(x->encap_fd);
	tunnel_half_wipe(&x->h);
}

static const char *ip(struct in_addr a, char buf[static INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static int fail(const char *what, const char *ns, int r)
{
	fprintf(stderr, "wh-tunnel: %s in '%s': %s\n", what, ns, strerror(-r));
	return r;
}

/* the steps of tunnel-create: A initiates, B is the peer */
static int create(struct host *a, struct host *b, const struct overlay_cidr *cidr, bool udp,
		  unsigned rekey)
{
	struct tunnel_half *h = &a->h;
	const char *step = NULL;
	int r;

	r = overlay_pick(a->nl, cidr, NULL, 0, &h->local_ov, &h->remote_ov);
	if (r < 0)
		return fail("overlay pick", a->ns, r);
	r = overlay_check(b->nl, h->local_ov, h->remote_ov); /* the peer's collision check */
	if (r < 0)
		return fail("overlay check", b->ns, r);
	r = tunnel_reqid_pick(a->nl, &h->reqid);
	if (r >= 0 && (r = tunnel_reqid_in_use(b->nl, h->reqid)) > 0)
		r = -EADDRINUSE;
	if (r < 0)
		return fail("reqid", b->ns, r);
	h->rekey_sec = rekey;
	if (tunnel_sa_random(&h->out) < 0 || tunnel_sa_random(&h->in) < 0)
		return fail("random", a->ns, -EIO);
	if (udp) {
		h->encap = TUNNEL_ENCAP_UDP;
		a->encap_fd = espinudp_open(a->nsfd, TUNNEL_ENCAP_PORT_MIN_DEFAULT,
					    TUNNEL_ENCAP_PORT_MAX_DEFAULT, &h->local_port);
		if (a->encap_fd < 0)
			return fail("encap socket", a->ns, a->encap_fd);
		b->encap_fd = espinudp_open(b->nsfd, TUNNEL_ENCAP_PORT_MIN_DEFAULT,
					    TUNNEL_ENCAP_PORT_MAX_DEFAULT, &h->remote_port);
		if (b->encap_fd < 0)
			return fail("encap socket", b->ns, b->encap_fd);
	}
	tunnel_half_mirror(h, &b->h);
	r = tunnel_install(b->nl, &b->h, &step);
	if (r < 0)
		return fail(step, b->ns, r);
	r = tunnel_install(a->nl, h, &step);
	if (r < 0) {
		(void)fail(step, a->ns, r);
		(void)tunnel_remove(b->nl, &b->h); /* roll back the peer's half too */
		return r;
	}
	return 0;
}

/* the rekey sequence of tunnel.h; A initiates */
static int rekey(struct host *a, struct host *b)
{
	struct tunnel_sa n_ab, n_ba, o_ab = a->h.out, o_ba = a->h.in;
	int r;

	if (tunnel_sa_random(&n_ab) < 0 || tunnel_sa_random(&n_ba) < 0)
		return -EIO;
	r = tunnel_sa_add(a->nl, &a->h, TUNNEL_DIR_IN, &n_ba);
	if (r < 0)
		return fail("rekey: new inbound SA", a->ns, r);
	r = tunnel_sa_add(b->nl, &b->h, TUNNEL_DIR_IN, &n_ab);
	if (r >= 0) {
		r = tunnel_sa_add(b->nl, &b->h, TUNNEL_DIR_OUT, &n_ba);
		if (r < 0)
			(void)tunnel_sa_del(b->nl, &b->h, TUNNEL_DIR_IN, n_ab.spi);
	}
	if (r < 0) {
		(void)tunnel_sa_del(a->nl, &a->h, TUNNEL_DIR_IN, n_ba.spi);
		return fail("rekey: peer's new SAs", b->ns, r);
	}
	(void)tunnel_sa_del(b->nl, &b->h, TUNNEL_DIR_OUT, o_ba.spi);
	r = tunnel_sa_add(a->nl, &a->h, TUNNEL_DIR_OUT, &n_ab);
	if (r < 0) {
		/* B already sends with n_ba, which A has; only A->B keeps its old SA */
		fprintf(stderr, "wh-tunnel: rekey: new outbound SA: %s, keeping the old one\n",
			strerror(-r));
		n_ab = o_ab;
	} else {
		(void)tunnel_sa_del(a->nl, &a->h, TUNNEL_DIR_OUT, o_ab.spi);
	}
	a->h.out = n_ab;
	a->h.in = n_ba;
	tunnel_half_mirror(&a->h, &b->h);
	sleep(TUNNEL_REKEY_GRACE_SEC);
	(void)tunnel_sa_del(a->nl, &a->h, TUNNEL_DIR_IN, o_ba.spi);
	if (n_ab.spi != o_ab.spi)
		(void)tunnel_sa_del(b->nl, &b->h, TUNNEL_DIR_IN, o_ab.spi);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct host a = { .nsfd = -EBADF, .encap_fd = -EBADF },
		    b = { .nsfd = -EBADF, .encap_fd = -EBADF };
	struct overlay_cidr cidr;
	const char *cidr_s = OVERLAY_CIDR_DEFAULT;
	unsigned rekeys = 0, rekey_sec = TUNNEL_REKEY_DEFAULT;
	bool udp = false, keep = false;
	char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];
	sigset_t mask;
	int sfd, r = 0;

	if (argc < 5)
		return 2;
	for (int i = 5; i < argc; i++) {
		if (strcmp(argv[i], "--udp") == 0)
			udp = true;
		else if (strcmp(argv[i], "--keep") == 0)
			keep = true;
		else if (strcmp(argv[i], "--rekey") == 0 && i + 1 < argc)
			rekey_sec = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--cidr") == 0 && i + 1 < argc)
			cidr_s = argv[++i];
		else
			return 2;
	}
	if (overlay_cidr_parse(cidr_s, &cidr) < 0)
		return 2;
	if (host_open(&a, argv[1]) < 0 || host_open(&b, argv[3]) < 0)
		goto out_fail;
	if (inet_pton(AF_INET, argv[2], &a.h.local) != 1 ||
	    inet_pton(AF_INET, argv[4], &a.h.remote) != 1) {
		host_close(&a);
		host_close(&b);
		return 2;
	}
	r = create(&a, &b, &cidr, udp, rekey_sec);
	if (r < 0)
		goto out_fail;
	printf("READY %s %s %08" PRIx32 "\n", ip(a.h.local_ov, b1), ip(a.h.remote_ov, b2),
	       a.h.reqid);
	fflush(stdout);
	if (keep)
		goto out;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	for (;;) {
		struct pollfd p = { .fd = sfd, .events = POLLIN };
		struct tunnel_counters c;

		if (poll(&p, 1, 1000) > 0)
			break;
		r = tunnel_counters(a.nl, &a.h, &c);
		if (r >= 0 && tunnel_rekey_due(&a.h, &c, time(NULL))) {
			r = rekey(&a, &b);
			if (r < 0)
				goto out_fail;
			printf("REKEY %u out=%08" PRIx32 " in=%08" PRIx32 "\n", ++rekeys,
			       a.h.out.spi, a.h.in.spi);
			fflush(stdout);
		}
	}
	safe_close(sfd);
	r = tunnel_remove(a.nl, &a.h);
	if (r < 0)
		(void)fail("remove", a.ns, r);
	{
		int r2 = tunnel_remove(b.nl, &b.h);

		if (r2 < 0)
			r = fail("remove", b.ns, r2);
	}
	if (r < 0)
		goto out_fail;
	printf("DELETED\n");
out:
	host_close(&a);
	host_close(&b);
	return 0;
out_fail:
	host_close(&a);
	host_close(&b);
	return 1;
}

static int cmd_list_clean(const char *ns, bool clean)
{
	struct host x = { .nsfd = -EBADF, .encap_fd = -EBADF };
	struct tunnel_found *v = NULL;
	size_t n = 0;
	int r, rc = 0;

	if (host_open(&x, ns) < 0) {
		host_close(&x);
		return 1;
	}
	r = tunnel_discover(x.nl, &v, &n);
	if (r < 0) {
		(void)fail("discover", ns, r);
		host_close(&x);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct tunnel_half *h = &v[i].h;
		char o1[INET_ADDRSTRLEN], o2[INET_ADDRSTRLEN], u2[INET_ADDRSTRLEN];
		struct tunnel_counters c = { 0 };

		if (clean) {
			r = tunnel_remove(x.nl, h);
			printf("REMOVED %08" PRIx32 " %s\n", h->reqid, r < 0 ? strerror(-r) : "ok");
			if (r < 0)
				rc = 1;
		} else {
			(void)tunnel_counters(x.nl, h, &c);
			printf("TUNNEL %08" PRIx32 " peer=%s local=%s remote=%s out=%08" PRIx32
			       " in=%08" PRIx32 " encap=%s %s out_bytes=%" PRIu64
			       " out_packets=%" PRIu64 " in_bytes=%" PRIu64 " in_packets=%" PRIu64
			       "\n",
			       h->reqid, ip(h->remote, u2), ip(h->local_ov, o1),
			       ip(h->remote_ov, o2), h->out.spi, h->in.spi,
			       h->encap == TUNNEL_ENCAP_UDP ? "espinudp" : "esp",
			       v[i].has == TUNNEL_HAS_ALL ? "complete" : "partial", c.out_bytes,
			       c.out_packets, c.in_bytes, c.in_packets);
		}
		tunnel_half_wipe(h);
	}
	printf("COUNT %zu\n", n);
	free(v);
	host_close(&x);
	return rc;
}

static int xfer(int argc, char **argv, bool send_mode)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	_cleanup_close_ int s = -EBADF, c = -EBADF, f = -EBADF;
	unsigned long bps = argc > 4 ? strtoul(argv[4], NULL, 10) : 0;
	static char buf[65536];
	uint64_t total = 0;
	struct timespec t0;

	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1)
		return 2;
	sin.sin_port = htons((uint16_t)strtoul(argv[2], NULL, 10));
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	f = send_mode ? open(argv[3], O_RDONLY | O_CLOEXEC)
		      : open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (s < 0 || f < 0)
		return 1;
	if (!send_mode) {
		if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) < 0 ||
		    bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(s, 1) < 0)
			return 1;
		printf("LISTENING\n");
		fflush(stdout);
		c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			return 1;
	} else {
		if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			perror("wh-tunnel: connect");
			return 1;
		}
		c = TAKE_FD(s);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		size_t chunk = sizeof(buf);
		ssize_t n, w;

		if (send_mode && bps) {
			struct timespec t;
			double due;

			chunk = bps / 8 < sizeof(buf) ? (bps / 8 ? bps / 8 : 1) : sizeof(buf);
			clock_gettime(CLOCK_MONOTONIC, &t);
			due = (double)total / (double)bps -
			      ((double)(t.tv_sec - t0.tv_sec) +
			       (double)(t.tv_nsec - t0.tv_nsec) / 1e9);
			if (due > 0)
				usleep((useconds_t)(due * 1e6));
		}
		n = read(send_mode ? f : c, buf, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 1;
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n; off += w) {
			w = write(send_mode ? c : f, buf + off, (size_t)(n - off));
			if (w < 0)
				return 1;
		}
		total += (uint64_t)n;
	}
	if (send_mode)
		(void)shutdown(c, SHUT_WR);
	printf("%s %" PRIu64 "\n", send_mode ? "SENT" : "RECEIVED", total);
	return 0;
}

int main(int argc, char **argv)
{
	int r = 2;

	if (netns_init() < 0)
		return 1;
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		r = cmd_run(argc - 1, argv + 1);
	else if (argc == 3 && strcmp(argv[1], "list") == 0)
		r = cmd_list_clean(argv[2], false);
	else if (argc == 3 && strcmp(argv[1], "clean") == 0)
		r = cmd_list_clean(argv[2], true);
	else if ((argc == 5 || argc == 6) && strcmp(argv[1], "send") == 0)
		r = xfer(argc - 1, argv + 1, true);
	else if (argc == 5 && strcmp(argv[1], "recv") == 0)
		r = xfer(argc - 1, argv + 1, false);
	if (r == 2)
		fprintf(stderr,
			"usage: wh-tunnel run NS_A ADDR_A NS_B ADDR_B [--udp] [--keep] "
			"[--rekey SEC] [--cidr CIDR] | list NS | clean NS | recv IP PORT FILE | "
			"send IP PORT FILE [BPS]\n");
	return r;
}
