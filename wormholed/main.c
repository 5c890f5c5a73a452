/* SPDX-License-Identifier: MIT */
/*
 * main.c - wormholed: arguments, the event loop, the control socket, clean shutdown
 *
 * One thread, one sd-event loop. SIGTERM and SIGINT end the loop; every segment is then freed
 * (listeners closed, connections ended, children and containers undone) and the control socket
 * removed before exit status 0. The docker-run containers of segments saved in the state file
 * are left running: the next start restores those segments and adopts them (lib/engine/
 * segment.c); the containers of chain-file segments and of children are removed. A control socket passed by systemd (FileDescriptorName=control)
 * is adopted instead of binding one.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "boot.h"
#include "chains.h"
#include "cleanup.h"
#include "config.h"
#include "containers.h"
#include "control.h"
#include "ioloop.h"
#include "labels.h"
#include "link-manager.h"
#include "log.h"
#include "metrics.h"
#include "netns.h"
#include "peer-key.h"
#include "peer.h"
#include "relay.h"
#include "segment.h"
#include "state.h"
#include "strv.h"
#include "systemd.h"
#include "time-util.h"
#include "tunnels.h"
#include "url.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)

#define USEC_PER_SEC  1000000ULL

struct options {
	char *ctl_path;
	char *state_dir;
	char *chains_dir;
	uint64_t connect_timeout_usec;
	bool connect_timeout_set;
	uint64_t udp_idle_usec;
	uint64_t idle_timeout_usec;
	unsigned max_conns;
	unsigned max_udp_sessions;
	int log_level;
	char *key_path;	    /* -K; NULL: the default, if it exists */
	char **peer_listen; /* --peer-listen; NULL: 0.0.0.0:9999 and [::]:9999 */
	size_t n_peer_listen;
	uint64_t lease_usec;
	bool docker_labels;
	char *metrics_addr;
	char *name;	/* --name; NULL: the host name */
	char **link;	/* --link HOST[:PORT], repeatable */
	char *keys_dir; /* --keys DIR; NULL: /etc/wormhole/keys.d */
	size_t n_link;
	struct tunnels_options tunnels;
};

static void help(void)
{
	printf("Usage: wormholed [OPTIONS]\n"
	       "\n"
	       "The wormhole daemon: creates and runs segments asked for by `wormhole`.\n"
	       "\n"
	       "  -H, --host unix://PATH      control socket (default unix://%s)\n"
	       "      --connect-timeout SEC   how long a connection waits for its tail to accept\n"
	       "                              (default 30); given, every tail is retried while\n"
	       "                              it refuses, not only container tails and tails\n"
	       "                              behind a trigger\n"
	       "      --max-conns N           concurrent connections per segment, on top of its "
	       "fair\n"
	       "                              share of the descriptors (default: the share only)\n"
	       "      --idle-timeout SEC      end a TCP connection quiet both ways this long\n"
	       "                              (default: never)\n"
	       "      --max-udp-sessions N    UDP sessions per segment (default 4096)\n"
	       "      --udp-idle SEC          idle timeout of a UDP session (default 60)\n"
	       "      --state DIR             state directory: identity, lock, segments to "
	       "restore\n"
	       "                              (default /var/lib/wormhole, or $STATE_DIRECTORY)\n"
	       "      --chains DIR            chain files NAME.chain to create at start\n"
	       "                              (default " WORMHOLE_CHAINS_DIR ")\n"
	       "  -K, --key PATH              the peer key (default %s, used if it exists);\n"
	       "                              without a key the peer port stays closed\n"
	       "      --peer-listen ADDR:PORT accept peer links there (repeatable; default\n"
	       "                              0.0.0.0:%d and [::]:%d when there is a key)\n"
	       "      --lease SEC             how long segments made for a peer outlive its\n"
	       "                              link (default 60)\n"
	       "      --name NAME             this daemon's name on the links it dials out\n"
	       "                              (default: the short host name)\n"
	       "      --keys DIR              also accept the keys in DIR (scoped keys, from\n"
	       "                              `wormhole keygen --allow`; default\n"
	       "                              /etc/wormhole/keys.d); remove a file to revoke\n"
	       "      --link HOST[:PORT]      keep a link dialed out to HOST (repeatable): HOST\n"
	       "                              reaches us as `remote NAME` through it; with\n"
	       "                              --link and no --peer-listen nothing is accepted\n"
	       "      --docker-labels         publish containers labelled wormhole.publish=...\n"
	       "      --metrics [ADDR:]PORT   Prometheus metrics over HTTP (default off; ADDR\n"
	       "                              defaults to 127.0.0.1)\n"
	       "      --rekey SEC             rekey IPsec tunnels this often (default 3600)\n"
	       "      --tunnel-cidr CIDR      overlay addresses of tunnels, the same on every\n"
	       "                              host (default 100.64.0.0/14)\n"
	       "      --tunnel-ports MIN-MAX  ESP-in-UDP ports of udptunnels (default 4500-4599)\n"
	       "  -v, --verbose               debug logging\n"
	       "  -h, --help                  this text\n"
	       "      --version               print the version\n",
	       WORMHOLE_CTL_SOCKET, WORMHOLE_KEYFILE, PEER_DEFAULT_PORT, PEER_DEFAULT_PORT);
}

static int parse_seconds(const char *s, uint64_t *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v <= 0 || v > 86400.0 * 365)
		return -EINVAL;
	*ret = (uint64_t)(v * USEC_PER_SEC);
	return 0;
}

static int parse_count(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > 1000000 || s[0] == '-')
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char *argv[], struct options *o)
{
	enum {
		ARG_CONNECT_TIMEOUT = 0x100,
		ARG_MAX_CONNS,
		ARG_UDP_IDLE,
		ARG_VERSION,
		ARG_IDLE_TIMEOUT,
		ARG_MAX_UDP_SESSIONS,
		ARG_STATE,
		ARG_CHAINS,
		ARG_PEER_LISTEN,
		ARG_LEASE,
		ARG_DOCKER_LABELS,
		ARG_METRICS,
		ARG_NAME,
		ARG_LINK,
		ARG_KEYS,
		ARG_REKEY,
		ARG_TUNNEL_CIDR,
		ARG_TUNNEL_PORTS,
	};
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "connect-timeout", required_argument, NULL, ARG_CONNECT_TIMEOUT },
		{ "max-conns", required_argument, NULL, ARG_MAX_CONNS },
		{ "udp-idle", required_argument, NULL, ARG_UDP_IDLE },
		{ "idle-timeout", required_argument, NULL, ARG_IDLE_TIMEOUT },
		{ "max-udp-sessions", required_argument, NULL, ARG_MAX_UDP_SESSIONS },
		{ "state", required_argument, NULL, ARG_STATE },
		{ "chains", required_argument, NULL, ARG_CHAINS },
		{ "docker-labels", no_argument, NULL, ARG_DOCKER_LABELS },
		{ "metrics", required_argument, NULL, ARG_METRICS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "key", required_argument, NULL, 'K' },
		{ "peer-listen", required_argument, NULL, ARG_PEER_LISTEN },
		{ "lease", required_argument, NULL, ARG_LEASE },
		{ "name", required_argument, NULL, ARG_NAME },
		{ "link", required_argument, NULL, ARG_LINK },
		{ "keys", required_argument, NULL, ARG_KEYS },
		{ "rekey", required_argument, NULL, ARG_REKEY },
		{ "tunnel-cidr", required_argument, NULL, ARG_TUNNEL_CIDR },
		{ "tunnel-ports", required_argument, NULL, ARG_TUNNEL_PORTS },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "H:K:vh", opts, NULL)) >= 0) {
		switch (c) {
		case 'H': {
			_cleanup_free_ char *err = NULL;
			struct peer_addr a = { 0 };

			if (peer_addr_parse(optarg, true, &a, &err) < 0 || !a.is_unix) {
				fprintf(stderr, "wormholed: -H '%s': %s\n", optarg,
					err
						?: "only unix://PATH is served here (the peer port "
						   "comes "
						   "with the remote issue)");
				peer_addr_done(&a);
				return 2;
			}
			free(o->ctl_path);
			o->ctl_path = TAKE_PTR(a.path);
			peer_addr_done(&a);
			break;
		}
		case ARG_CONNECT_TIMEOUT:
			o->connect_timeout_set = true;
			if (parse_seconds(optarg, &o->connect_timeout_usec) < 0) {
				fprintf(stderr,
					"wormholed: --connect-timeout '%s': not a positive "
					"number of seconds\n",
					optarg);
				return 2;
			}
			break;
		case ARG_UDP_IDLE:
			if (parse_seconds(optarg, &o->udp_idle_usec) < 0) {
				fprintf(stderr,
					"wormholed: --udp-idle '%s': not a positive number "
					"of seconds\n",
					optarg);
				return 2;
			}
			break;
		case ARG_IDLE_TIMEOUT:
			if (parse_seconds(optarg, &o->idle_timeout_usec) < 0) {
				fprintf(stderr,
					"wormholed: --idle-timeout '%s': not a positive number "
					"of seconds\n",
					optarg);
				return 2;
			}
			break;
		case ARG_MAX_CONNS:
		case ARG_MAX_UDP_SESSIONS:
			if (parse_count(optarg, c == ARG_MAX_CONNS ? &o->max_conns
								   : &o->max_udp_sessions) < 0) {
				fprintf(stderr,
					"wormholed: --%s '%s': not a number in 1..1000000\n",
					c == ARG_MAX_CONNS ? "max-conns" : "max-udp-sessions",
					optarg);
				return 2;
			}
			break;
		case ARG_STATE:
		case ARG_CHAINS: {
			char **dst = c == ARG_STATE ? &o->state_dir : &o->chains_dir;

			if (optarg[0] != '/') {
				fprintf(stderr, "wormholed: --%s '%s': needs an absolute path\n",
					c == ARG_STATE ? "state" : "chains", optarg);
				return 2;
			}
			free(*dst);
			*dst = strdup(optarg);
			if (!*dst)
				return 1;
			break;
		}
		case 'K':
			free(o->key_path);
			o->key_path = strdup(optarg);
			if (!o->key_path)
				return 1;
			break;
		case ARG_PEER_LISTEN:
			if (strv_push_dup(&o->peer_listen, &o->n_peer_listen, optarg) < 0)
				return 1;
			break;
		case ARG_LEASE:
			if (parse_seconds(optarg, &o->lease_usec) < 0) {
				fprintf(stderr,
					"wormholed: --lease '%s': not a positive number of "
					"seconds\n",
					optarg);
				return 2;
			}
			break;
		case ARG_NAME:
			free(o->name);
			o->name = strdup(optarg);
			if (!o->name)
				return 1;
			break;
		case ARG_KEYS:
			free(o->keys_dir);
			o->keys_dir = strdup(optarg);
			if (!o->keys_dir)
				return 1;
			break;
		case ARG_LINK:
			if (strv_push_dup(&o->link, &o->n_link, optarg) < 0)
				return 1;
			break;
		case ARG_DOCKER_LABELS:
			o->docker_labels = true;
			break;
		case ARG_METRICS:
			free(o->metrics_addr);
			o->metrics_addr = strdup(optarg);
			if (!o->metrics_addr)
				return 1;
			break;
		case ARG_REKEY: {
			uint64_t usec;

			if (parse_seconds(optarg, &usec) < 0 || usec < USEC_PER_SEC) {
				fprintf(stderr,
					"wormholed: --rekey '%s': not a number of seconds "
					">= 1\n",
					optarg);
				return 2;
			}
			o->tunnels.rekey_sec = (unsigned)(usec / USEC_PER_SEC);
			break;
		}
		case ARG_TUNNEL_CIDR:
			o->tunnels.cidr = optarg;
			break;
		case ARG_TUNNEL_PORTS: {
			char *dash, *end = NULL;
			unsigned long lo, hi = 0;

			errno = 0;
			lo = strtoul(optarg, &dash, 10);
			if (*dash == '-')
				hi = strtoul(dash + 1, &end, 10);
			if (errno || dash == optarg || *dash != '-' || !end || end == dash + 1 ||
			    *end || lo == 0 || hi > 65535 || lo > hi) {
				fprintf(stderr,
					"wormholed: --tunnel-ports '%s': expected MIN-MAX, "
					"1 <= MIN <= MAX <= 65535\n",
					optarg);
				return 2;
			}
			o->tunnels.port_min = (uint16_t)lo;
			o->tunnels.port_max = (uint16_t)hi;
			break;
		}
		case 'v':
			o->log_level = LOG_DEBUG;
			break;
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("wormholed %s\n", WORMHOLE_VERSION);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "wormholed: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return -1; /* go on */
}

#define STOP_DRAIN_USEC (10 * USEC_PER_SEC)

static struct control *ctl;
static struct peer_server *peers;
static uint64_t stop_deadline, stop_min;
static struct labels *labels;
static struct metrics *metrics;
static uint64_t stop_deadline;

/* Wait (bounded) until the containers we remove are gone, then end the loop. */
static int on_drain(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	if ((containers_drained(d) && now_usec() >= stop_min) || now_usec() >= stop_deadline) {
		if (!containers_drained(d))
			log_warning("giving up waiting for Docker to remove containers");
		return sd_event_exit(d->event, 0);
	}
	(void)sd_event_source_set_time_relative(src, 20 * 1000);
	return sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

static int on_stop_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;
	int r;

	if (stop_deadline) {
		log_warning("second signal, exiting at once");
		return sd_event_exit(d->event, 0);
	}
	log_info("shutting down");
	sysd_notify_stopping();
	boot_stopping(); /* the state file and the fd store keep the segments for the next start */
	stop_deadline = now_usec() + STOP_DRAIN_USEC;
	peer_server_detach_control(peers);
	ctl = control_free(ctl);
	labels = labels_free(labels);
	d->exiting = true; /* the containers of segments in the state file stay */
	daemon_free_all_segments(d);
	/* the deletes of our remote segments are on their way over the links: let them go */
	stop_min = d->peers ? now_usec() + 300 * 1000 : 0;
	r = sd_event_add_time_relative(d->event, NULL, CLOCK_MONOTONIC, 0, 1000, on_drain, d);
	if (r < 0)
		return sd_event_exit(d->event, 0);
	return 0;
}

/* The peer key and port: with -K the key must load; without, the default is used if it exists. */
static int start_peers(struct daemon *d, struct options *o)
{
	static char any4[] = "0.0.0.0:" STRINGIFY(PEER_DEFAULT_PORT),
		    any6[] = "[::]:" STRINGIFY(PEER_DEFAULT_PORT);
	static char *const defaults[] = { any4, any6, NULL };
	static char *const none[] = { NULL };
	const char *path = o->key_path ?: WORMHOLE_KEYFILE;
	_cleanup_free_ char *err = NULL;
	struct peer_key key;
	int r;

	r = peer_key_load(path, &key, &err);
	if (r == -ENOENT && !o->key_path && !o->link) {
		log_info("no peer key at %s: the peer port stays closed, `remote` is refused "
			 "(make a key with `wormhole keygen`)",
			 path);
		/* a peer socket from wormholed.socket is closed: nothing could authenticate on it */
		for (int pfd; (pfd = sysd_take_peer_fd()) >= 0;) {
			log_notice("closing the peer socket passed by systemd: no key");
			safe_close(pfd);
		}
		return 0;
	}
	if (r < 0) {
		log_error("%s", err ?: strerror(-r));
		return r;
	}
	/* a host that dials out (--link) accepts nothing unless told to; the peer port from
	 * wormholed.socket (FileDescriptorName=peer) replaces the default addresses */
	r = peer_server_new(d, ctl, &key,
			    o->peer_listen
				    ?: o->link || sysd_has_peer_fd() ? none
								     : defaults,
			    o->lease_usec ?: PEER_LEASE_DEFAULT_USEC, &peers);
	for (int pfd; r >= 0 && (pfd = sysd_take_peer_fd()) >= 0;) {
		_cleanup_free_ char *e = NULL;

		r = peer_manager_listen_fd(d->peers, pfd, &e);
		if (r < 0) {
			log_error("peer socket passed by systemd: %s", e ?: strerror(-r));
			safe_close(pfd);
		} else
			log_info("peer links accepted on the socket passed by systemd (fd %d)",
				 pfd);
	}
	if (r >= 0)
		r = peer_server_set_key_dir(peers, &key, o->keys_dir ?: "/etc/wormhole/keys.d");
	peer_key_wipe(&key);
	if (r < 0)
		return r;
	if (o->name) {
		r = peer_server_set_name(peers, o->name);
		if (r < 0)
			return r;
	}
	for (char **l = o->link; l && *l; l++) {
		_cleanup_free_ char *e = NULL;

		r = peer_server_link(peers, *l, true, &e);
		if (r < 0) {
			log_error("--link '%s': %s", *l, e ?: strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Raises the soft open-file limit to the hard one. Return: the soft limit now in force (what the
 * fair shares of conn.c divide), 0 if unknown */
static unsigned raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	return rl.rlim_cur > INT_MAX ? INT_MAX : (unsigned)rl.rlim_cur;
}

int main(int argc, char *argv[])
{
	struct options o = {
		.connect_timeout_usec = 30 * USEC_PER_SEC,
		.udp_idle_usec = 60 * USEC_PER_SEC,
		.max_udp_sessions = 4096,
		.log_level = LOG_INFO,
	};
	struct daemon d = { 0 };
	struct wh_state *st = NULL;
	bool ctl_default, from_systemd;
	int r, fd;

	log_setup("wormholed", LOG_INFO);
	r = parse_args(argc, argv, &o);
	if (r >= 0) {
		free(o.ctl_path);
		free(o.state_dir);
		free(o.chains_dir);
		free(o.metrics_addr);
		return r;
	}
	log_set_max_level(o.log_level);
	if (!o.ctl_path) {
		o.ctl_path = strdup(WORMHOLE_CTL_SOCKET);
		if (!o.ctl_path)
			return 1;
	}
	if (!o.chains_dir)
		o.chains_dir = strdup(WORMHOLE_CHAINS_DIR);
	fd = sysd_listen_fds();
	/* a control socket from systemd is the default one as far as identity goes */
	from_systemd = fd >= 0;
	ctl_default = from_systemd || strcmp(o.ctl_path, WORMHOLE_CTL_SOCKET) == 0;
	if (!o.state_dir)
		o.state_dir = state_default_dir(o.ctl_path, ctl_default);
	if (!o.chains_dir || !o.state_dir) {
		r = -ENOMEM;
		goto out;
	}
	if (geteuid() != 0)
		log_warning(
			"not running as root: heads and tails in network namespaces and "
			"containers (ns@, docker-ns, docker-run) and ports below 1024 will fail");
	{
		_cleanup_free_ char *err = NULL;

		r = state_open(o.state_dir, &st, &err);
		if (r < 0) {
			log_error("%s", err ?: strerror(-r));
			goto out;
		}
	}

	umask(0077); /* the control socket is born 0600, never briefly wider */
	(void)signal(SIGPIPE, SIG_IGN);
	d.fd_limit = raise_nofile();
	r = netns_init();
	if (r < 0) {
		log_error_errno(r, "cannot open our own network namespace");
		goto out;
	}

	r = sd_event_default(&d.event);
	if (r < 0) {
		log_error_errno(r, "cannot create the event loop");
		goto out;
	}
	(void)sd_event_add_signal(d.event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_stop_signal,
				  &d);
	(void)sd_event_add_signal(d.event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_stop_signal,
				  &d);
	(void)sd_event_set_watchdog(d.event, 1);
	d.ops = chain_ops;
	d.connect_timeout_usec = o.connect_timeout_usec;
	d.connect_timeout_set = o.connect_timeout_set;
	d.udp_idle_usec = o.udp_idle_usec;
	d.idle_timeout_usec = o.idle_timeout_usec;
	d.max_conns = o.max_conns;
	d.max_udp_sessions = o.max_udp_sessions;
	d.instance = state_daemon_id(st);
	r = ioloop_new(d.event, &d.loop);
	if (r < 0) {
		log_error_errno(r, "cannot create the data path's epoll set");
		goto out;
	}
	r = pipe_pool_new(64, &d.pipes);
	if (r < 0) {
		log_error_errno(r, "cannot create the pipe pool");
		goto out;
	}

	r = containers_init(&d);
	if (r < 0) {
		log_error_errno(r, "cannot set up the Docker client");
		goto out;
	}

	if (o.metrics_addr) {
		r = metrics_new(&d, o.metrics_addr, &metrics);
		if (r < 0) {
			log_error_errno(r, "--metrics '%s'%s", o.metrics_addr,
					r == -EINVAL ? " (expected [ADDR:]PORT, numeric)" : "");
			goto out;
		}
		log_info("metrics on http://%s/metrics", o.metrics_addr);
	}

	if (fd < 0 && strncmp(o.ctl_path, "/run/wormhole/", 14) == 0)
		(void)mkdir("/run/wormhole", 0755);
	r = control_new(&d, fd < 0 ? o.ctl_path : NULL, fd, &ctl);
	fd = -EBADF; /* control_new() took it */
	if (r < 0) {
		if (r == -ENOTSOCK)
			log_error("control socket '%s': the path exists and is not a socket, "
				  "refusing to replace it",
				  o.ctl_path);
		else if (r == -EADDRINUSE)
			log_error("control socket '%s': already in use (another wormholed "
				  "answers on it)",
				  o.ctl_path);
		else
			log_error_errno(r, "control socket '%s'", o.ctl_path);
		goto out;
	}
	r = start_peers(&d, &o);
	if (r < 0)
		goto out;
	if (o.docker_labels) { /* after the peers: wormhole.publish.remote goes through them */
		r = labels_new(&d, peers, &labels);
		if (r < 0) {
			log_error_errno(r, "cannot follow Docker for labelled containers");
			goto out;
		}
	}
	r = tunnels_start(&d, &o.tunnels); /* before the chain files: they may hold tunnels */
	if (r == -EINVAL)
		goto out;
	r = 0; /* without netlink the daemon runs on, refusing tunnels */
	log_info("wormholed %s, daemon id %s (state %s), control socket %s", WORMHOLE_VERSION,
		 d.instance, o.state_dir, from_systemd ? "from systemd" : o.ctl_path);
	/* chain files and the restore; READY=1 once every segment is up (boot.c) */
	if (peers)
		boot_set_leases(peer_server_leased, peer_server_restore_lease, peers);
	r = boot_start(&d, st, o.chains_dir);
	if (r < 0) {
		log_error_errno(r, "cannot start the segments");
		goto out;
	}
	(void)containers_sweep(&d); /* we hold the identity's lock: what is left is orphaned */

	r = sd_event_loop(d.event);
	if (r < 0)
		log_error_errno(r, "event loop failed");
out:
	peer_server_detach_control(peers);
	ctl = control_free(ctl);
	metrics = metrics_free(metrics);
	labels = labels_free(labels);
	boot_stopping();
	d.exiting = true;
	daemon_free_all_segments(&d);
	boot_free();
	tunnels_stop(); /* the kernel keeps the tunnels */
	peers = peer_server_free(peers);
	containers_free(&d);
	sysd_free();
	st = state_free(st);
	free(o.state_dir);
	free(o.chains_dir);
	d.pipes = pipe_pool_free(d.pipes);
	d.loop = ioloop_free(d.loop);
	d.event = sd_event_unref(d.event);
	free(o.ctl_path);
	free(o.key_path);
	strv_free(o.peer_listen);
	free(o.metrics_addr);
	free(o.name);
	free(o.keys_dir);
	strv_free(o.link);
	return r < 0 ? 1 : 0;
}
