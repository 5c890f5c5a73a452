/* SPDX-License-Identifier: MIT */
/*
 * relay.c - the stream data path: two sockets, two directions, splice for bulk
 *
 * Theory of operation. A relay owns two non-blocking stream sockets, both registered once, edge-
 * triggered (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET), in the data path's ioloop: no per-relay
 * event source, and no epoll_ctl() while it runs (the backend socket usually comes registered
 * from the connector and is adopted as it is). Direction d reads socket d and writes socket !d
 * (d = 0: client -> backend, "up"). Each direction is a small state machine pumped by dir_pump():
 *
 *   COPY:    recv() into a 16 KiB stack buffer and send() it on at once. If the send is partial,
 *            only the remainder is kept, in a malloc'ed buffer of exactly its size, and the
 *            direction is "blocked" until the destination reports EPOLLOUT.
 *   BULK:    a recv() that filled the whole stack buffer means a bulk transfer: the direction
 *            borrows a pipe from the pool and moves data socket -> pipe -> socket with splice(2),
 *            never touching user space. The pipe goes back to the pool the moment it is empty,
 *            so only connections with bytes in flight hold one. A splice that moves less than
 *            the copy buffer drops the direction back to COPY. If no pipe can be had (EMFILE)
 *            the direction simply keeps copying.
 *   EOF:     recv()/splice() returned 0: once everything pending is flushed, the destination gets
 *            shutdown(SHUT_WR) and the direction is finished; the other one keeps flowing. The
 *            direction that finishes last skips the shutdown: the relay then closes both sockets
 *            at once, which sends the same FIN.
 *
 * Edge triggering: an event is reported when something new happens on a socket (data, FIN, error,
 * or send space after a send that found the buffer full), so a direction must keep going until
 * the kernel says EAGAIN, or until it knows the socket is drained: a recv() that returns less than
 * asked for on a stream socket has emptied the receive queue (TCP and unix sockets copy from every
 * queued segment up to the size asked), and whatever arrives later raises a new edge. The one
 * exception is EOF, which may have arrived with the data already reported: once a socket reported
 * EPOLLRDHUP, HUP or ERR, reads on it go on to 0 or EAGAIN. A direction waiting to write
 * ignores EPOLLIN on its source (its destination's EPOLLOUT resumes it, and it then reads on), and
 * EPOLLOUT, reported with nearly every event, matters only to a direction that waits to write.
 * An idle relay therefore holds two fds, this struct and no buffers, and costs no wakeups.
 *
 * Fairness: each direction moves at most RELAY_BUDGET bytes per wakeup; a direction that stops on
 * its budget is put on the ioloop's deferred list and goes on after the other events of the batch.
 * No edge is needed to resume it.
 *
 * The relay is done (error 0, "done") when both directions are finished, or at the first error;
 * either way it closes both sockets before calling done.
 *
 * A relay with a user-space stream end (stream.h) is a different animal, stream-relay.c: relay_new()
 * sends it there and this struct only carries the pointer (sr), looked at in relay_free() and
 * relay_bytes(), never on the data path.
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
#include "ioloop.h"
#include "relay.h"
#include "stream-relay.h"
#include "stream.h"

#define RELAY_COPY_SIZE (16U * 1024) /* stack buffer for small reads */
/* What we ask F_SETPIPE_SZ for. 1 MiB (the default pipe-max-size, so it works without
 * CAP_SYS_RESOURCE too) measured ~35% less relay CPU than 256 KiB for 2 GB on loopback; a pipe's
 * pages are allocated only for bytes in flight, and empty pipes go back to the pool. */
#define RELAY_PIPE_SIZE (1024U * 1024)
#define RELAY_BUDGET	(1024U * 1024)	     /* bytes per direction per wakeup */
#define RELAY_EVENTS	IOLOOP_STREAM_EVENTS /* EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET */

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
	bool shut;	  /* EOF passed on (or the relay closes): direction finished */
	bool blocked;	  /* waits for EPOLLOUT on the destination */
	bool again;	  /* stopped on its budget: on the deferred list */
	bool closing;	  /* the source reported RDHUP/HUP/ERR: read to 0 or EAGAIN */
};

struct relay {
	struct ioloop_watch w; /* first: the watch is the relay */
	struct ioloop *loop;
	int fd[2];
	struct pipe_pool *pool;
	relay_done_fn done;
	void *userdata;
	struct relay_dir dir[2];
	struct stream_relay *sr; /* a buffered relay (an end is a stream), or NULL */
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

/* The buffered relay's errors read the same; relay_fail() itself stays as the splice path had it. */
const char *relay_error_reason(unsigned side, int e)
{
	const char *reason;

	(void)relay_fail(&reason, side != 0, e);
	return reason;
}

/*
 * Moves what direction @d can move now. Return: 0 when it must wait (blocked on its destination,
 * its source drained, or its budget spent: see x->blocked, x->again), or a negative errno with
 * *ret_reason set.
 */
static int dir_pump(struct relay *r, unsigned d, const char **ret_reason)
{
	struct relay_dir *x = &r->dir[d];
	int src = r->fd[d], dst = r->fd[!d];
	size_t budget = RELAY_BUDGET;
	char buf[RELAY_COPY_SIZE];
	ssize_t n, w;

	x->blocked = false;
	x->again = false;
	for (;;) {
		if (x->buf_len > 0) {
			w = send(dst, x->buf + x->buf_off, x->buf_len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN) {
					x->blocked = true;
					return 0;
				}
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
				if (errno == EAGAIN) {
					x->blocked = true;
					return 0;
				}
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
				/* Last one: the relay closes both sockets now, same FIN. ENOTCONN: the
				 * destination is gone already; the other direction will notice. */
				if (!r->dir[!d].shut && shutdown(dst, SHUT_WR) < 0 &&
				    errno != ENOTCONN)
					return relay_fail(ret_reason, !d, errno);
				x->shut = true;
			}
			return 0;
		}
		if (budget == 0) {
			x->again = true;
			return 0;
		}

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
			x->blocked = true;
			return 0;
		}
		/* A short read emptied the receive queue; what comes later raises a new edge. */
		if ((size_t)n < sizeof(buf) && !x->closing)
			return 0;
	}
}

/* Both directions finished, or an error: close both sockets (out of the ioloop), report. */
static void relay_finish(struct relay *r, int error, const char *reason)
{
	ioloop_cancel(&r->w);
	for (unsigned i = 0; i < 2; i++) {
		r->fd[i] = ioloop_close(r->loop, r->fd[i]);
		r->dir[i].shut = true;
	}
	r->done(r, error, reason, r->userdata); /* may free r */
}

static void on_event(struct ioloop_watch *w, int fd, uint32_t revents)
{
	struct relay *r = (struct relay *)w;
	const char *reason = "done";
	int k = 0;

	if (fd < 0) {
		/* from the deferred list: directions that stopped on their budget go on */
		for (unsigned d = 0; d < 2 && k >= 0; d++)
			if (r->dir[d].again)
				k = dir_pump(r, d, &reason);
	} else {
		unsigned i = fd == r->fd[BACKEND];
		bool bad = revents & (EPOLLHUP | EPOLLERR);

		/* Socket i readable: direction i, unless it waits to write. Writable: direction !i,
		 * if it waits for that. HUP/ERR: both, the syscalls report what happened. */
		if (revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			r->dir[i].closing = true;
		if (bad || ((revents & (EPOLLIN | EPOLLRDHUP)) && !r->dir[i].blocked))
			k = dir_pump(r, i, &reason);
		if (k >= 0 && (bad || ((revents & EPOLLOUT) && r->dir[!i].blocked)))
			k = dir_pump(r, !i, &reason);
	}
	if (k < 0 || (r->dir[0].shut && r->dir[1].shut)) {
		relay_finish(r, k, reason);
		return;
	}
	if (r->dir[0].again || r->dir[1].again)
		ioloop_defer(r->loop, &r->w);
}

static void set_nodelay(int fd)
{
	/* Relayed request/response traffic must not wait for Nagle; bulk data leaves in full
	 * segments anyway. Unix sockets answer EOPNOTSUPP, which is fine. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
}

static int relay_new_buffered(struct ioloop *l, struct relay_end client, struct relay_end backend,
			      relay_done_fn done, void *userdata, struct relay **ret)
{
	struct relay *r;
	int k;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->loop = l;
	r->fd[CLIENT] = r->fd[BACKEND] = -EBADF;
	for (unsigned i = 0; i < 2; i++)
		r->dir[i].pipe[0] = r->dir[i].pipe[1] = -EBADF;
	k = stream_relay_new(l, r, client, backend, done, userdata, &r->sr);
	if (k < 0) {
		free(r);
		return k;
	}
	*ret = r;
	return 0;
}

int relay_new(struct ioloop *l, struct pipe_pool *pool, struct relay_end client,
	      struct relay_end backend, relay_done_fn done, void *userdata, struct relay **ret)
{
	int client_fd = client.fd, backend_fd = backend.fd;
	struct relay *r;
	int k;

	if (!l || !done || !ret)
		return -EINVAL;
	if (client.stream || backend.stream)
		return relay_new_buffered(l, client, backend, done, userdata, ret);
	if (!pool || client_fd < 0 || backend_fd < 0)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->w.fn = on_event;
	r->loop = l;
	r->fd[CLIENT] = client_fd;
	r->fd[BACKEND] = backend_fd;
	r->pool = pool;
	r->done = done;
	r->userdata = userdata;
	for (unsigned i = 0; i < 2; i++)
		r->dir[i].pipe[0] = r->dir[i].pipe[1] = -EBADF;
	/* Registering reports what is pending already (a request that came while we connected). A
	 * backend fd from the connector is registered already, for the same events: adopted as it
	 * is, or at most one EPOLL_CTL_MOD. */
	k = ioloop_add(l, client_fd, RELAY_EVENTS, &r->w);
	if (k >= 0) {
		k = ioloop_adopt(l, backend_fd, RELAY_EVENTS, &r->w);
		if (k < 0)
			ioloop_forget(l, client_fd);
	}
	if (k < 0) {
		free(r); /* ownership stays with the caller on failure */
		return k;
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
	r->sr = stream_relay_free(r->sr);
	ioloop_cancel(&r->w);
	for (unsigned i = 0; i < 2; i++) {
		r->fd[i] = ioloop_close(r->loop, r->fd[i]);
		free(r->dir[i].buf);
		pipe_pool_put(r->pool, r->dir[i].pipe, r->dir[i].in_pipe == 0);
	}
	free(r);
	return NULL;
}

void relay_bytes(const struct relay *r, uint64_t *ret_up, uint64_t *ret_down)
{
	if (r->sr) {
		stream_relay_bytes(r->sr, ret_up, ret_down);
		return;
	}
	if (ret_up)
		*ret_up = r->dir[0].bytes;
	if (ret_down)
		*ret_down = r->dir[1].bytes;
}

void relay_end_close(struct relay_end *e)
{
	if (!e)
		return;
	e->fd = safe_close(e->fd);
	e->stream = stream_free(e->stream);
}
