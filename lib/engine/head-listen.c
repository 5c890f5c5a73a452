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
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

static int listen_start(struct segment *s, char **ret_error)
{
	struct endpoint *h = &s->head;
	_cleanup_free_ char *url = NULL;
	_cleanup_close_ int fd = -EBADF;
	union sockaddr_union sa = { 0 };
	socklen_t salen = 0;
	struct head_listen *l;
	int r, one = 1;

	if (h->proto == URL_PROTO_NONE)
		h->proto = URL_PROTO_TCP;
	if (h->proto != URL_PROTO_UNIX && !h->host) {
		h->host = strdup("127.0.0.1");
		if (!h->host)
			return -ENOMEM;
	}
	url = endpoint_url(h, true);
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	*l = (struct head_listen){ .s = s, .fd = -EBADF, .dirfd = -EBADF };

	if (h->proto == URL_PROTO_UNIX) {
		r = endpoint_unix_sockaddr(h->path, &sa, &salen);
		if (r < 0)
			goto fail;
		fd = netns_socket(-1, AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			r = errmsg_set_errno(ret_error, fd, "head '%s': cannot create socket",
					     url ?: "");
			goto fail_msg;
		}
		r = unix_bind(l, h->path, fd);
		if (r < 0)
			goto fail;
	} else {
		r = endpoint_resolve(h->host, h->port, endpoint_socktype(h->proto), &sa, &salen);
		if (r < 0) {
			errmsg_set_errno(ret_error, r, "head '%s': cannot resolve '%s'", url ?: "",
					 h->host);
			goto fail_msg;
		}
		fd = netns_socket(h->nsfd, sa.sa.sa_family,
				  endpoint_socktype(h->proto) | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			r = errmsg_set_errno(ret_error, fd, "head '%s': cannot create socket",
					     url ?: "");
			goto fail_msg;
		}
		if (h->proto == URL_PROTO_TCP)
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, &sa.sa, salen) < 0) {
			r = -errno;
			goto fail;
		}
	}
	if (h->proto != URL_PROTO_UDP && listen(fd, LISTEN_BACKLOG) < 0) {
		r = errmsg_set_errno(ret_error, -errno, "head '%s': listen", url ?: "");
		goto fail_msg;
	}
	if (h->proto != URL_PROTO_UNIX) {
		salen = sizeof(sa);
		if (getsockname(fd, &sa.sa, &salen) < 0) {
			r = -errno;
			goto fail;
		}
		h->port = ntohs(sa.sa.sa_family == AF_INET ? sa.in.sin_port : sa.in6.sin6_port);
	}

	if (h->proto == URL_PROTO_UDP) {
		r = udp_relay_new(s->d->event, fd, s->d->udp_idle_usec,
				  s->d->max_udp_sessions ?: UINT_MAX, &conn_udp_ops, s, &s->udp);
		if (r < 0)
			goto fail;
		fd = -EBADF; /* the relay owns it */
		head_listen_free(l, false);
		return 0;
	}
	r = sd_event_add_io(s->d->event, &l->src, fd, EPOLLIN, on_accept, l);
	if (r < 0)
		goto fail;
	l->fd = TAKE_FD(fd);
	s->listen = l;
	return 0;

fail:
	errmsg_set_errno(ret_error, r, "head '%s'", url ?: "");
fail_msg:
	if (l->ino != 0) { /* bound: the socket file is ours, remove it */
		l->fd = TAKE_FD(fd);
		head_listen_free(l, true);
	} else {
		head_listen_free(l, false);
	}
	return r;
}

static void listen_stop(struct segment *s)
{
	s->listen = head_listen_free(s->listen, true);
	s->udp = udp_relay_free(s->udp);
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
