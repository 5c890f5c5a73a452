/* SPDX-License-Identifier: MIT */
/*
 * relay.c - the stream data path: two sockets, two directions, splice for bulk
 *
 * Theory of operation. A relay owns two non-blocking stream sockets, each with one sd-event io
 * source. Direction d reads socket d and writes socket !d (d = 0: client -> backend, "up").
 * Each direction is a small state machine pumped by dir_pump():
 *
 *   COPY:    recv() into a 16 KiB stack buffer and send() it on at once. If the send is partial,
 *            only the remainder is kept, in a malloc'ed buffer of exactly its size, and the
 *            direction stops reading until it is written (EPOLLOUT on the destination).
 *   BULK:    a recv() that filled the whole stack buffer means a bulk transfer: the direction
 *            borrows a pipe from the pool and moves data socket -> pipe -> socket with splice(2),
 *            never touching user space. The pipe goes back to the pool the moment it is empty,
 *            so only connections with bytes in flight hold one. A splice that moves less than
 *            the copy buffer drops the direction back to COPY. If no pipe can be had (EMFILE)
 *            the direction simply keeps copying.
 *   EOF:     recv()/splice() returned 0: once everything pending is flushed, the destination gets
 *            shutdown(SHUT_WR) and the direction is finished; the other one keeps flowing.
 *
 * The relay is done (error 0, "done") when both directions are finished, or at the first error.
 * Event masks follow the state: socket i asks for EPOLLIN while direction i may read, and for
 * EPOLLOUT while direction !i has bytes waiting for it; a source whose mask is empty is turned
 * off (EPOLLHUP would otherwise fire forever on a half-closed socket). An idle relay therefore
 * holds two fds, two sources, this struct and no buffers, and costs no wakeups.
 *
 * Fairness: each direction moves at most RELAY_BUDGET bytes per wakeup and then returns to the
 * loop; epoll is level-triggered, so it is called again after the other sources had their turn.
 *
 * SIGPIPE: the copy path uses send(MSG_NOSIGNAL), but splice() into a socket whose peer is gone
 * raises SIGPIPE; the daemon (and the tests) ignore SIGPIPE, and the error arrives as EPIPE.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "relay.h"

#define RELAY_COPY_SIZE (16U * 1024) /* stack buffer for small reads */
/* What we ask F_SETPIPE_SZ for. 1 MiB (the default pipe-max-size, so it works without
 * CAP_SYS_RESOURCE too) measured ~35% less relay CPU than 256 KiB for 2 GB on loopback; a pipe's
 * pages are allocated only for bytes in flight, and empty pipes go back to the pool. */
#define RELAY_PIPE_SIZE (1024U * 1024)
#define RELAY_BUDGET	(1024U * 1024) /* bytes per direction per wakeup */

enum { CLIENT = 0, BACKEND = 1 };

struct pipe_pool {
	unsigned max_idle;
	unsigned n_idle;
	int (*idle)[2]; /* max_idle slots: [0] read end, [1] write end */
};

struct relay_dir {
	char *buf;	  /* unsent remainder of a copy (exactly buf_len bytes), or NULL */
	uint32_t buf_len; /* bytes in buf not yet sent */
	uint32_t buf_off; /* where they start */
	uint32_t in_pipe; /* bytes in the borrowed pipe */
	int pipe[2];	  /* borrowed pipe, or -EBADF */
	uint64_t bytes;	  /* delivered to the destination */
	bool bulk;	  /* use splice */
	bool eof;	  /* source reached EOF */
	bool shut;	  /* EOF passed on with shutdown(SHUT_WR): direction finished */
};

struct relay {
	sd_event_source *io[2];
	int fd[2];
	uint32_t mask[2]; /* current io events per socket; 0 = source off */
	struct pipe_pool *pool;
	relay_done_fn done;
	void *userdata;
	struct relay_dir dir[2];
};

int pipe_pool_new(unsigned max_idle, struct pipe_pool **ret)
{
	struct pipe_pool *p;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (max_idle > 0) {
		p->idle = calloc(max_idle, sizeof(*p->idle));
		if (!p->idle) {
			free(p);
			return -ENOMEM;
		}
	}
	p->max_idle = max_idle;
	*ret = p;
	return 0;
}

struct pipe_pool *pipe_pool_free(struct pipe_pool *p)
{
	if (!p)
		return NULL;
	for (unsigned i = 0; i < p->n_idle; i++) {
		(void)safe_close(p->idle[i][0]);
		(void)safe_close(p->idle[i][1]);
	}
	free(p->idle);
	free(p);
	return NULL;
}

unsigned pipe_pool_idle(const struct pipe_pool *p)
{
	return p ? p->n_idle : 0;
}

static int pipe_pool_get(struct pipe_pool *p, int ret[2])
{
	int fds[2];

	if (p->n_idle > 0) {
		p->n_idle--;
		ret[0] = p->idle[p->n_idle][0];
		ret[1] = p->idle[p->n_idle][1];
		return 0;
	}
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	/* A bigger pipe means fewer splice calls per MiB; if the limit refuses, 64 KiB still works. */
	(void)fcntl(fds[1], F_SETPIPE_SZ, (int)RELAY_PIPE_SIZE);
	ret[0] = fds[0];
	ret[1] = fds[1];
	return 0;
}

/* Takes the pipe back; a pipe that still holds data can't be reused and is closed. */
static void pipe_pool_put(struct pipe_pool *p, int fds[2], bool empty)
{
	if (fds[0] < 0)
		return;
	if (empty && p->n_idle < p->max_idle) {
		p->idle[p->n_idle][0] = fds[0];
		p->idle[p->n_idle][1] = fds[1];
		p->n_idle++;
	} else {
		(void)safe_close(fds[0]);
		(void)safe_close(fds[1]);
	}
	fds[0] = fds[1] = -EBADF;
}

static bool dir_pending(const struct relay_dir *x)
{
	return x->buf_len > 0 || x->in_pipe > 0;
}

static bool errno_is_reset(int e)
{
	return e == ECONNRESET || e == EPIPE || e == ECONNABORTED || e == ETIMEDOUT ||
	       e == EHOSTUNREACH || e == ENETUNREACH;
}

/* The error of socket @side: a reset by its peer, or some other failure. */
static int relay_fail(const char **ret_reason, unsigned side, int e)
{
	static const char *const reasons[2][2] = {
		{ "client error", "client reset" },
		{ "backend error", "backend reset" },
	};

	*ret_reason = reasons[side][errno_is_reset(e)];
	return -e;
}

/*
 * Moves what direction @d can move now. Return: 0 when it must wait (or spent its budget), or a
 * negative errno with *ret_reason set.
 */
static int dir_pump(struct relay *r, unsigned d, const char **ret_reason)
{
	struct relay_dir *x = &r->dir[d];
	int src = r->fd[d], dst = r->fd[!d];
	size_t budget = RELAY_BUDGET;
	char buf[RELAY_COPY_SIZE];
	ssize_t n, w;

	for (;;) {
		if (x->buf_len > 0) {
			w = send(dst, x->buf + x->buf_off, x->buf_len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					return 0;
				return relay_fail(ret_reason, !d, errno);
			}
			x->bytes += (size_t)w;
			x->buf_off += (uint32_t)w;
			x->buf_len -= (uint32_t)w;
			if (x->buf_len > 0)
				continue; /* the next send says EAGAIN or takes more */
			free(x->buf);
			x->buf = NULL;
			x->buf_off = 0;
		}
		if (x->in_pipe > 0) {
			w = splice(x->pipe[0], NULL, dst, NULL, x->in_pipe,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					return 0;
				return relay_fail(ret_reason, !d, errno);
			}
			x->bytes += (size_t)w;
			x->in_pipe -= (uint32_t)w;
			if (x->in_pipe > 0)
				continue;
			pipe_pool_put(r->pool, x->pipe, true);
		}
		if (x->eof) {
			if (!x->shut) {
				/* ENOTCONN: the destination is gone already; the other
				 * direction will notice when it reads or writes. */
				if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN)
					return relay_fail(ret_reason, !d, errno);
				x->shut = true;
			}
			return 0;
		}
		if (budget == 0)
			return 0;

		if (x->bulk && x->pipe[0] < 0 && pipe_pool_get(r->pool, x->pipe) < 0)
			x->bulk = false; /* no pipe (EMFILE?): copy until the next full buffer */
		if (x->bulk) {
			n = splice(src, NULL, x->pipe[1], NULL, RELAY_PIPE_SIZE,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n <= 0) {
				int e = n < 0 ? errno : 0;

				pipe_pool_put(r->pool, x->pipe, true); /* empty: we drain first */
				if (e == EINTR)
					continue;
				if (e == EAGAIN)
					return 0;
				if (e != 0)
					return relay_fail(ret_reason, d, e);
				x->eof = true;
				continue;
			}
			x->in_pipe = (uint32_t)n;
			budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
			if ((size_t)n < RELAY_COPY_SIZE)
				x->bulk = false;
			continue;
		}

		n = recv(src, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return relay_fail(ret_reason, d, errno);
		}
		if (n == 0) {
			x->eof = true;
			continue;
		}
		if ((size_t)n == sizeof(buf))
			x->bulk = true;
		budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
		do
			w = send(dst, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (w < 0 && errno == EINTR);
		if (w < 0) {
			if (errno != EAGAIN)
				return relay_fail(ret_reason, !d, errno);
			w = 0;
		}
		x->bytes += (size_t)w;
		if (w < n) {
			x->buf = malloc((size_t)(n - w));
			if (!x->buf) {
				*ret_reason = "out of memory";
				return -ENOMEM;
			}
			memcpy(x->buf, buf + w, (size_t)(n - w));
			x->buf_len = (uint32_t)(n - w);
			return 0;
		}
	}
}

static int relay_update_events(struct relay *r)
{
	int k;

	for (unsigned i = 0; i < 2; i++) {
		uint32_t m = 0;

		if (!r->dir[i].eof && !dir_pending(&r->dir[i]))
			m |= EPOLLIN;
		if (dir_pending(&r->dir[!i]))
			m |= EPOLLOUT;
		if (m == r->mask[i])
			continue;
		if (m != 0) {
			k = sd_event_source_set_io_events(r->io[i], m);
			if (k < 0)
				return k;
		}
		if (m == 0 || r->mask[i] == 0) {
			k = sd_event_source_set_enabled(r->io[i], m ? SD_EVENT_ON : SD_EVENT_OFF);
			if (k < 0)
				return k;
		}
		r->mask[i] = m;
	}
	return 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct relay *r = userdata;
	const char *reason = "done";
	unsigned i = fd == r->fd[BACKEND];
	int k = 0;

	/* Socket i readable: direction i. Writable: direction !i, which writes to it. HUP/ERR: both,
	 * the syscalls report what happened. */
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		k = dir_pump(r, i, &reason);
	if (k >= 0 && (revents & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
		k = dir_pump(r, !i, &reason);
	if (k >= 0 && r->dir[0].shut && r->dir[1].shut)
		goto finish;
	if (k >= 0) {
		k = relay_update_events(r);
		if (k >= 0)
			return 0;
		reason = "event loop error";
	}
finish:
	(void)sd_event_source_set_enabled(r->io[0], SD_EVENT_OFF);
	(void)sd_event_source_set_enabled(r->io[1], SD_EVENT_OFF);
	r->mask[0] = r->mask[1] = 0;
	r->done(r, k, reason, r->userdata); /* may free r */
	return 0;
}

static void set_nodelay(int fd)
{
	/* Relayed request/response traffic must not wait for Nagle; bulk data leaves in full
	 * segments anyway. Unix sockets answer EOPNOTSUPP, which is fine. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
}

int relay_new(sd_event *e, struct pipe_pool *pool, int client_fd, int backend_fd,
	      relay_done_fn done, void *userdata, struct relay **ret)
{
	struct relay *r;
	int k;

	if (!e || !pool || client_fd < 0 || backend_fd < 0 || !done || !ret)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd[CLIENT] = client_fd;
	r->fd[BACKEND] = backend_fd;
	r->pool = pool;
	r->done = done;
	r->userdata = userdata;
	for (unsigned i = 0; i < 2; i++) {
		r->dir[i].pipe[0] = r->dir[i].pipe[1] = -EBADF;
		r->mask[i] = EPOLLIN;
	}
	for (unsigned i = 0; i < 2; i++) {
		k = sd_event_add_io(e, &r->io[i], r->fd[i], EPOLLIN, on_io, r);
		if (k < 0) {
			/* ownership stays with the caller on failure */
			r->fd[0] = r->fd[1] = -EBADF;
			relay_free(r);
			return k;
		}
	}
	set_nodelay(client_fd);
	set_nodelay(backend_fd);
	*ret = r;
	return 0;
}

struct relay *relay_free(struct relay *r)
{
	if (!r)
		return NULL;
	for (unsigned i = 0; i < 2; i++) {
		r->io[i] = sd_event_source_disable_unref(r->io[i]);
		r->fd[i] = safe_close(r->fd[i]);
		free(r->dir[i].buf);
		pipe_pool_put(r->pool, r->dir[i].pipe, r->dir[i].in_pipe == 0);
	}
	free(r);
	return NULL;
}

void relay_bytes(const struct relay *r, uint64_t *ret_up, uint64_t *ret_down)
{
	if (ret_up)
		*ret_up = r->dir[0].bytes;
	if (ret_down)
		*ret_down = r->dir[1].bytes;
}
