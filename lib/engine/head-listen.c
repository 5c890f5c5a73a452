/* SPDX-License-Identifier: MIT */
/*
 * head-listen.c - the listener head: bind and listen on s->head, inside its namespace
 *
 * TCP and unix heads accept4() in batches and hand each connection to conn_accept(); UDP heads
 * give their socket to lib/net/udp-relay, whose sessions go to conn_udp_ops. On EMFILE (and
 * ENFILE, ENOBUFS, ENOMEM) the listener is paused instead of spinning on a readable socket it
 * cannot accept: it resumes as soon as any connection of the daemon gives its descriptors back
 * (engine_fds_released(), relayd's way), or after a short timer when none does.
 *
 * A unix head's directory is held open (O_PATH) from before the bind, and the inode of the
 * socket file is remembered (after checking that the name bound is the one in that directory):
 * deleting the segment removes the socket only if the name in that same directory
 * still is that socket, so a directory swapped for a symlink, or a file put in its place, is
 * never removed. The socket is created with mode 0666 (as reachable as a loopback port) through
 * the umask around bind(), never with a chmod() that would follow links.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "conn.h"
#include "errmsg.h"
#include "head.h"
#include "list.h"
#include "log.h"
#include "netns.h"
#include "segment.h"
#include "udp-relay.h"

#define ACCEPT_BATCH	  64
#define ACCEPT_PAUSE_USEC (100 * 1000ULL)
#define LISTEN_BACKLOG	  4096

struct head_listen {
	struct segment *s;
	int fd;
	sd_event_source *src;
	sd_event_source *retry_src;
	LIST_FIELDS(struct head_listen, paused);
	bool is_paused;
	/* a unix head: where its socket file is, and which inode it is */
	int dirfd;
	char *base;
	dev_t dev;
	ino_t ino;
};

static void listen_resume(struct head_listen *l)
{
	struct daemon *d = l->s->d;

	l->retry_src = sd_event_source_disable_unref(l->retry_src);
	if (l->is_paused) {
		LIST_REMOVE(paused, d->paused, l);
		l->is_paused = false;
	}
	(void)sd_event_source_set_enabled(l->src, SD_EVENT_ON);
}

void engine_fds_released(struct daemon *d)
{
	while (d->paused) {
		log_debug("segment '%s': a descriptor came back, accepting again",
			  d->paused->s->id);
		listen_resume(d->paused);
	}
}

static int on_accept_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	listen_resume(userdata);
	return 0;
}

static void accept_pause(struct head_listen *l, int error)
{
	struct daemon *d = l->s->d;
	int r;

	log_warning_errno(error, "segment '%s': cannot accept, pausing the listener for %llu ms",
			  l->s->id, ACCEPT_PAUSE_USEC / 1000);
	(void)sd_event_source_set_enabled(l->src, SD_EVENT_OFF);
	if (!l->is_paused) {
		LIST_PREPEND(paused, d->paused, l);
		l->is_paused = true;
	}
	if (l->retry_src)
		return;
	r = sd_event_add_time_relative(d->event, &l->retry_src, CLOCK_MONOTONIC, ACCEPT_PAUSE_USEC,
				       10 * 1000, on_accept_retry, l);
	if (r < 0) /* cannot pause: keep accepting rather than go deaf */
		listen_resume(l);
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct head_listen *l = userdata;
	struct segment *s = l->s;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		union sockaddr_union sa = { 0 };
		socklen_t salen = sizeof(sa);
		int cfd;

		cfd = accept4(fd, &sa.sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				accept_pause(l, -errno);
				break;
			}
			log_warning_errno(-errno, "segment '%s': accept failed, ignoring", s->id);
			break;
		}
		if (!conn_admit(s)) {
			char client[SOCKADDR_STR_MAX];

			safe_close(cfd);
			sockaddr_format(&sa.sa, salen, client);
			conn_refused(s, client);
			continue;
		}
		conn_accept(s, RELAY_END_FD(cfd), &sa.sa, salen);
		if (!s->listen) /* the segment stopped listening (its container went down) */
			break;
	}
	return 0;
}

/* A socket file nobody answers on is stale: take it over, like systemd does. Anything else that
 * is not a socket is refused. Relative to @dirfd, never following a link. */
static int unix_prepare(int dirfd, const char *base, const union sockaddr_union *sa,
			socklen_t salen)
{
	struct stat st;
	int fd, r;

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, &sa->sa, salen) < 0 ? -errno : -EADDRINUSE;
	safe_close(fd);
	if (r == -ECONNREFUSED) {
		(void)unlinkat(dirfd, base, 0);
		return 0;
	}
	return -EADDRINUSE;
}

/* Binds a unix socket at @path, mode 0666, holding its directory in l->dirfd. */
static int unix_bind(struct head_listen *l, const char *path, int fd)
{
	const char *slash = strrchr(path, '/');
	union sockaddr_union sa;
	socklen_t salen;
	struct stat st, st2;
	mode_t old;
	int r;

	if (slash && !slash[1])
		return -EISDIR;
	if (!slash) {
		l->dirfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else {
		/* "/x" lives in "/", "a/b/x" in "a/b" */
		_cleanup_free_ char *dir =
			strndup(path, slash == path ? 1 : (size_t)(slash - path));

		if (!dir)
			return -ENOMEM;
		l->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (l->dirfd < 0)
		return -errno;
	l->base = strdup(slash ? slash + 1 : path);
	if (!l->base)
		return -ENOMEM;
	r = endpoint_unix_sockaddr(path, &sa, &salen);
	if (r < 0)
		return r;
	r = unix_prepare(l->dirfd, l->base, &sa, salen);
	if (r < 0)
		return r;
	old = umask(0111);
	r = bind(fd, &sa.sa, salen) < 0 ? -errno : 0;
	(void)umask(old);
	if (r < 0)
		return r;
	/* what we bound must be the name in the directory we hold; if the directory was swapped
	 * meanwhile, refuse (and remember nothing, so nothing is ever unlinked) */
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return -ESTALE;
	if (fstatat(l->dirfd, l->base, &st2, AT_SYMLINK_NOFOLLOW) < 0 || st2.st_dev != st.st_dev ||
	    st2.st_ino != st.st_ino)
		return -ESTALE;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	return 0;
}

static void unix_unlink(struct head_listen *l)
{
	struct stat st;

	if (l->dirfd < 0 || !l->base || l->ino == 0)
		return;
	if (fstatat(l->dirfd, l->base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (!S_ISSOCK(st.st_mode) || st.st_dev != l->dev || st.st_ino != l->ino) {
		log_notice("segment '%s': '%s' is no longer the socket it bound, leaving it alone",
			   l->s->id, l->s->head.path);
		return;
	}
	(void)unlinkat(l->dirfd, l->base, 0);
}

static struct head_listen *head_listen_free(struct head_listen *l, bool unlink_path)
{
	if (!l)
		return NULL;
	if (l->is_paused)
		LIST_REMOVE(paused, l->s->d->paused, l);
	l->retry_src = sd_event_source_disable_unref(l->retry_src);
	l->src = sd_event_source_disable_unref(l->src);
	if (l->fd >= 0) {
		l->fd = safe_close(l->fd);
		if (unlink_path)
			unix_unlink(l);
	}
	l->dirfd = safe_close(l->dirfd);
	free(l->base);
	free(l);
	return NULL;
}

/* Which process holds @port (a listening TCP or bound UDP socket of this namespace), from /proc:
 * "pid 123 (nginx)", or NULL. Only on the error path of a create. */
static char *port_owner(int family, int socktype, uint16_t port)
{
	const char *table = socktype == SOCK_DGRAM
				    ? (family == AF_INET6 ? "/proc/net/udp6" : "/proc/net/udp")
				    : (family == AF_INET6 ? "/proc/net/tcp6" : "/proc/net/tcp");
	_cleanup_free_ char *line = NULL;
	unsigned long inode = 0;
	size_t n = 0;
	FILE *f;
	DIR *proc;
	struct dirent *de;
	char *ret = NULL;

	f = fopen(table, "re");
	if (!f)
		return NULL;
	while (getline(&line, &n, f) > 0) {
		char *tok[10], *save = NULL, *colon;
		unsigned long lport, st, ino;
		int k = 0;

		/* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
		for (char *t = strtok_r(line, " \t\n", &save); t && k < 10;
		     t = strtok_r(NULL, " \t\n", &save))
			tok[k++] = t;
		if (k < 10 || !(colon = strchr(tok[1], ':')))
			continue;
		lport = strtoul(colon + 1, NULL, 16);
		st = strtoul(tok[3], NULL, 16);
		ino = strtoul(tok[9], NULL, 10);
		if (lport == port && (socktype == SOCK_DGRAM || st == 0x0A) && ino) {
			inode = ino;
			break;
		}
	}
	fclose(f);
	if (!inode)
		return NULL;
	proc = opendir("/proc");
	if (!proc)
		return NULL;
	while (!ret && (de = readdir(proc))) {
		char path[300], want[64], got[64];
		DIR *fds;
		struct dirent *fe;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
		(void)snprintf(want, sizeof(want), "socket:[%lu]", inode);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			char lpath[600];
			ssize_t k;

			(void)snprintf(lpath, sizeof(lpath), "%s/%s", path, fe->d_name);
			k = readlink(lpath, got, sizeof(got) - 1);
			if (k <= 0)
				continue;
			got[k] = '\0';
			if (strcmp(got, want) == 0) {
				char comm[64] = "?";
				FILE *cf;

				(void)snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
				cf = fopen(path, "re");
				if (cf) {
					if (fgets(comm, sizeof(comm), cf))
						comm[strcspn(comm, "\n")] = '\0';
					fclose(cf);
				}
				if (asprintf(&ret, "pid %s (%s)", de->d_name, comm) < 0)
					ret = NULL;
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return ret;
}

/* The message for a bind that failed with @r. */
static void head_bind_error(char **ret_error, int r, const char *url,
			    const union sockaddr_union *sa, socklen_t salen)
{
	_cleanup_free_ char *owner = NULL;
	uint16_t port;

	if (r != -EADDRINUSE || sa->sa.sa_family == AF_UNIX) {
		if (r == -EADDRNOTAVAIL)
			(void)errmsg_set(ret_error,
					 "head '%s': the address is not one of this host's "
					 "(or of the namespace's)",
					 url);
		else
			(void)errmsg_set_errno(ret_error, r, "head '%s'", url);
		return;
	}
	port = ntohs(sa->sa.sa_family == AF_INET ? sa->in.sin_port : sa->in6.sin6_port);
	owner = port_owner(sa->sa.sa_family,
			   strncmp(url, "udp:", 4) == 0 ? SOCK_DGRAM : SOCK_STREAM, port);
	(void)errmsg_set(ret_error, "head '%s': port %u is already in use%s%s", url, port,
			 owner ? " by " : "", owner ?: "");
	(void)salen;
}

/* Serve @fd (bound; ownership taken, also on failure) as @l: listen, learn the real port, and
 * either give it to a UDP relay or accept on it. */
static int listen_finish(struct segment *s, struct head_listen *l, int fd, const char *url,
			 char **ret_error)
{
	_cleanup_close_ int cfd = fd;
	struct endpoint *h = &s->head;
	union sockaddr_union sa = { 0 };
	socklen_t salen;
	int r;

	if (h->proto != URL_PROTO_UDP && listen(cfd, LISTEN_BACKLOG) < 0)
		return errmsg_set_errno(ret_error, -errno, "head '%s': listen", url);
	if (h->proto != URL_PROTO_UNIX) {
		salen = sizeof(sa);
		if (getsockname(cfd, &sa.sa, &salen) < 0)
			return errmsg_set_errno(ret_error, -errno, "head '%s'", url);
		h->port = ntohs(sa.sa.sa_family == AF_INET ? sa.in.sin_port : sa.in6.sin6_port);
	}
	if (h->proto == URL_PROTO_UDP) {
		r = udp_relay_new(s->d->event, cfd, s->d->udp_idle_usec,
				  s->d->max_udp_sessions ?: UINT_MAX, &conn_udp_ops, s, &s->udp);
		if (r < 0)
			return errmsg_set_errno(ret_error, r, "head '%s'", url);
		TAKE_FD(cfd); /* the relay owns it */
		head_listen_free(l, false);
		return 0;
	}
	r = sd_event_add_io(s->d->event, &l->src, cfd, EPOLLIN, on_accept, l);
	if (r < 0)
		return errmsg_set_errno(ret_error, r, "head '%s'", url);
	l->fd = TAKE_FD(cfd);
	s->listen = l;
	return 0;
}

/* The listener the previous run left in the fd store for this segment, if it is bound where
 * the head would bind (a restore): a duplicate, or -ENOENT. */
static int stored_take(struct segment *s, const union sockaddr_union *want, socklen_t wantlen)
{
	const struct daemon_hooks *hk = s->d->hooks;
	union sockaddr_union sa = { 0 };
	socklen_t salen = sizeof(sa);
	int fd, type = 0;
	socklen_t tl = sizeof(type);

	if (!hk || !hk->stored_listener)
		return -ENOENT;
	fd = hk->stored_listener(s->d, s->id);
	if (fd < 0)
		return -ENOENT;
	if (getsockname(fd, &sa.sa, &salen) < 0 || sa.sa.sa_family != want->sa.sa_family ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    type != endpoint_socktype(s->head.proto))
		return -ENOENT;
	if (sa.sa.sa_family == AF_UNIX) {
		if (strncmp(sa.un.sun_path, want->un.sun_path, sizeof(sa.un.sun_path)) != 0)
			return -ENOENT;
	} else if (sa.sa.sa_family == AF_INET) {
		if (sa.in.sin_addr.s_addr != want->in.sin_addr.s_addr ||
		    (want->in.sin_port && want->in.sin_port != sa.in.sin_port))
			return -ENOENT;
	} else if (sa.sa.sa_family == AF_INET6) {
		if (memcmp(&sa.in6.sin6_addr, &want->in6.sin6_addr, sizeof(sa.in6.sin6_addr)) !=
			    0 ||
		    (want->in6.sin6_port && want->in6.sin6_port != sa.in6.sin6_port))
			return -ENOENT;
	} else {
		return -ENOENT;
	}
	(void)wantlen;
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	/* the description is shared with the store: O_NONBLOCK for us is fine for it too */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* An adopted unix listener: remember the file it has now, so a delete removes only that. */
static void unix_remember(struct head_listen *l, const char *path)
{
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!slash || !slash[1])
		return; /* heads are absolute paths (lib/grammar/url.c) */
	{
		_cleanup_free_ char *dir =
			strndup(path, slash == path ? 1 : (size_t)(slash - path));

		if (!dir)
			return;
		l->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	l->base = strdup(slash + 1);
	if (l->dirfd < 0 || !l->base || fstatat(l->dirfd, l->base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISSOCK(st.st_mode))
		return;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
}

static int listen_bind(struct segment *s, struct head_listen *l, const union sockaddr_union *sa,
		       socklen_t salen, const char *url, char **ret_error)
{
	struct endpoint *h = &s->head;
	_cleanup_close_ int fd = -EBADF;
	int r, one = 1;

	if (h->proto == URL_PROTO_UNIX) {
		fd = netns_socket(-1, AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return errmsg_set_errno(ret_error, fd, "head '%s': cannot create socket",
						url);
		r = unix_bind(l, h->path, fd);
		if (r < 0)
			return errmsg_set_errno(ret_error, r, "head '%s'", url);
		return TAKE_FD(fd);
	}
	fd = netns_socket(h->nsfd, sa->sa.sa_family, endpoint_socktype(h->proto) | SOCK_NONBLOCK,
			  0);
	if (fd < 0)
		return errmsg_set_errno(ret_error, fd, "head '%s': cannot create socket", url);
	if (h->proto == URL_PROTO_TCP)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &sa->sa, salen) < 0)
		return -errno; /* the caller words it */
	return TAKE_FD(fd);
}

static int listen_start(struct segment *s, char **ret_error)
{
	const struct daemon_hooks *hk = s->d->hooks;
	struct endpoint *h = &s->head;
	_cleanup_free_ char *url = NULL;
	union sockaddr_union sa = { 0 };
	socklen_t salen = 0;
	struct head_listen *l;
	uint16_t pinned = 0;
	bool adopted = false;
	int r, fd;

	if (h->proto == URL_PROTO_NONE)
		h->proto = URL_PROTO_TCP;
	if (h->proto != URL_PROTO_UNIX && !h->host) {
		h->host = strdup("127.0.0.1");
		if (!h->host)
			return -ENOMEM;
	}
	/* a restore binds the port an ephemeral head had, if it still can */
	if (h->proto != URL_PROTO_UNIX && h->port == 0)
		h->port = pinned = segment_restore_port(s);
	url = endpoint_url(h, true);
	if (!url)
		return -ENOMEM;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	*l = (struct head_listen){ .s = s, .fd = -EBADF, .dirfd = -EBADF };

	if (h->proto == URL_PROTO_UNIX)
		r = endpoint_unix_sockaddr(h->path, &sa, &salen);
	else
		r = endpoint_resolve(h->host, h->port, endpoint_socktype(h->proto), &sa, &salen);
	if (r < 0) {
		if (h->proto == URL_PROTO_UNIX)
			errmsg_set_errno(ret_error, r, "head '%s'", url);
		else if (r == -EADDRNOTAVAIL)
			errmsg_set(ret_error, "head '%s': host '%s' did not resolve to an address",
				   url, h->host);
		else
			errmsg_set_errno(ret_error, r, "head '%s': cannot resolve '%s'", url,
					 h->host);
		head_listen_free(l, false);
		return r;
	}
	fd = stored_take(s, &sa, salen);
	if (fd >= 0) {
		adopted = true;
		if (h->proto == URL_PROTO_UNIX)
			unix_remember(l, h->path);
		log_debug("segment '%s': adopted its listener from the fd store", s->id);
	} else {
		fd = listen_bind(s, l, &sa, salen, url, ret_error);
		if (fd == -EADDRINUSE && pinned) {
			log_warning("segment '%s': port %u is taken now, listening on a new one",
				    s->id, pinned);
			h->port = 0;
			if (sa.sa.sa_family == AF_INET)
				sa.in.sin_port = 0;
			else if (sa.sa.sa_family == AF_INET6)
				sa.in6.sin6_port = 0;
			fd = listen_bind(s, l, &sa, salen, url, ret_error);
		}
		if (fd < 0 && !*ret_error)
			head_bind_error(ret_error, fd, url, &sa, salen);
	}
	if (fd < 0) {
		head_listen_free(l, l->ino != 0); /* bound: the socket file is ours */
		return fd;
	}
	{
		int keep = fd;

		r = listen_finish(s, l, fd, url, ret_error);
		if (r < 0) {
			head_listen_free(l, l->ino != 0);
			return r;
		}
		if (hk && hk->listener_up)
			hk->listener_up(s->d, s->id, keep,
					adopted); /* still open: ours or the relay's */
	}
	return 0;
}

int head_listen_adopt(struct segment *s, int fd, char **ret_error)
{
	_cleanup_free_ char *url = endpoint_url(&s->head, true);
	struct head_listen *l = calloc(1, sizeof(*l));
	int r;

	if (!l || !url) {
		free(l);
		safe_close(fd);
		return -ENOMEM;
	}
	*l = (struct head_listen){ .s = s, .fd = -EBADF, .dirfd = -EBADF };
	r = listen_finish(s, l, fd, url, ret_error);
	if (r < 0)
		head_listen_free(l, false);
	return r;
}

static void listen_stop(struct segment *s)
{
	const struct daemon_hooks *hk = s->d->hooks;
	bool had = s->listen || s->udp;

	s->listen = head_listen_free(s->listen, true);
	s->udp = udp_relay_free(s->udp);
	if (had && hk && hk->listener_down && s->head_ops == &head_listen_ops)
		hk->listener_down(s->d, s->id);
}

static bool listen_active(const struct segment *s)
{
	return s->listen || s->udp;
}

const struct head_ops head_listen_ops = {
	.kind = "listen",
	.start = listen_start,
	.stop = listen_stop,
	.active = listen_active,
};
