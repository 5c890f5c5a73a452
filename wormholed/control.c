/* SPDX-License-Identifier: MIT */
/*
 * control.c - the control server: accept, check the peer is root, read lines, dispatch, reply
 *
 * Requests are handled one at a time per client, in order; a create whose words take time (a
 * container start) leaves its client busy until the reply goes out, while other clients and the
 * data path carry on. Input lines are capped (CTL_LINE_MAX) before any parsing, and a client that
 * is not uid 0 gets one error line and is closed at once, without anything of its being read.
 *
 * Nothing a client does can make the daemon hold much for it or stall the loop: a client is read
 * only while its output queue is under CTL_OUT_MAX (one that pipelines requests and never reads
 * stops being read), and is dropped when its output does not drain for CTL_DRAIN_USEC or when it
 * has not sent a full request within CTL_IDLE_USEC. A list is streamed (control-list.c), a batch
 * each time the queue falls under the bound. Of the CTL_MAX_CLIENTS slots, a new root client takes
 * the slot of the least recently active one when they are all used. This file owns the socket and
 * the clients; what a request does is in control-ops.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "control-internal.h"
#include "control.h"
#include "ctl-proto.h"
#include "log.h"
#include "segment.h"
#include "stream.h"
#include "tunnels.h"

static void client_free(struct ctl_client *c)
{
	struct control *ctl = c->ctl;

	if (c->pending) {
		/* the client gave up (Ctrl-C during a pull, or we are stopping): undo the
		 * creation rather than leave a chain nobody asked for any more */
		log_notice("segment '%s': the client went away during its creation, undoing it",
			   c->pending->s->id);
		segment_free(
			c->pending->s); /* cancels its pending words; on_created is not called */
		free(c->pending);
		c->pending = NULL;
	}
	tunnels_wait_cancel(c->twait); /* the tunnel operation goes on without its asker */
	LIST_REMOVE(clients, ctl->clients, c);
	ctl->n_clients--;
	c->list = control_list_stream_free(c->list);
	c->timer = sd_event_source_disable_unref(c->timer);
	c->src = sd_event_source_disable_unref(c->src);
	safe_close(c->fd);
	stream_free(c->st);
	free(c->in);
	free(c->out);
	free(c);
}

static uint64_t loop_now_usec(struct ctl_client *c)
{
	uint64_t t = 0;

	(void)sd_event_now(sd_event_source_get_event(c->src), CLOCK_MONOTONIC, &t);
	return t;
}

/* A full request line is waiting and may be taken now. */
static bool client_has_line(struct ctl_client *c)
{
	return c->in_len > 0 && memchr(c->in, '\n', c->in_len);
}

/* Whether the client may take its next request (or produce more list lines) now. */
static bool client_can_work(struct ctl_client *c)
{
	return !c->pending && !c->twait && !c->closing && c->out_len < CTL_OUT_MAX;
}

static void client_update_events(struct ctl_client *c)
{
	uint32_t ev = 0;
	uint64_t deadline;

	/* read only what can be handled right away: the input buffer never holds more than one
	 * partial line besides what one recv() brought */
	if (client_can_work(c) && !c->list && !c->eof && !client_has_line(c))
		ev |= EPOLLIN;
	/* also when there is more to produce: writable means the loop comes back to us after the
	 * other ready sources, so one long list cannot hold the loop */
	if (c->out_len > 0 || (client_can_work(c) && (c->list || client_has_line(c))))
		ev |= EPOLLOUT;
	if (!c->st)
		(void)sd_event_source_set_io_events(c->src, ev);
	else if ((ev & EPOLLOUT && !(c->out_len > 0 && c->st_idle)) ||
		 (ev & EPOLLIN && !c->st_idle))
		(void)sd_event_source_set_enabled(c->src, SD_EVENT_ONESHOT);

	if (c->pending || c->twait) { /* a creation takes the time it takes (an image pull) */
		(void)sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
		return;
	}
	deadline = c->last_usec + (c->out_len > 0 || c->list ? CTL_DRAIN_USEC : CTL_IDLE_USEC);
	(void)sd_event_source_set_time(c->timer, deadline);
	(void)sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

static int on_client_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct ctl_client *c = userdata;

	if (c->out_len > 0 || c->list)
		log_notice("control: a client did not read its replies for %llu s, closing it",
			   CTL_DRAIN_USEC / 1000000);
	else
		log_debug("control: a client sent no full request for %llu s, closing it",
			  CTL_IDLE_USEC / 1000000);
	client_free(c);
	return 0;
}

/* recv()/send() on the socket, or the stream's read()/write(), with errno set the same way */
static ssize_t client_recv(struct ctl_client *c, void *buf, size_t len)
{
	ssize_t n;

	if (!c->st)
		return recv(c->fd, buf, len, MSG_DONTWAIT);
	n = c->st->ops->read(c->st, buf, len);
	c->st_idle = n == -EAGAIN;
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}

static ssize_t client_send(struct ctl_client *c, const void *buf, size_t len)
{
	ssize_t n;

	if (!c->st)
		return send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	n = c->st->ops->write(c->st, buf, len);
	if (n == -EAGAIN)
		c->st_idle = true;
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}

/* Return: 0, or <0 when the client is gone (freed) */
static int client_flush(struct ctl_client *c)
{
	while (c->out_len > 0) {
		ssize_t n = client_send(c, c->out, c->out_len);

		if (n < 0) {
			if (errno == EAGAIN)
				break;
			if (errno == EINTR)
				continue;
			client_free(c);
			return -EPIPE;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
		if (n > 0)
			c->last_usec = loop_now_usec(c);
	}
	if (c->out_len == 0 && c->eof && !c->pending && !c->twait && !c->list &&
	    !client_has_line(c))
		c->closing = true; /* it said all it had to say and has every answer */
	if (c->out_len == 0 && c->closing) {
		client_free(c);
		return -EPIPE;
	}
	client_update_events(c);
	return 0;
}

int control_client_queue(struct ctl_client *c, const struct ctl_reply *rep)
{
	_cleanup_free_ char *line = NULL;
	size_t len;
	char *o;
	int r;

	r = ctl_reply_format(rep, &line);
	if (r < 0)
		return r;
	len = strlen(line);
	o = realloc(c->out, c->out_len + len);
	if (!o)
		return -ENOMEM;
	memcpy(o + c->out_len, line, len);
	c->out = o;
	c->out_len += len;
	return 0;
}

int control_client_reply_error(struct ctl_client *c, const char *fmt, ...)
{
	_cleanup_free_ char *m = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	static char oom[] = "out of memory";

	return control_client_queue(c, &(struct ctl_reply){ .ok = false, .error = m ?: oom });
}

/* Return: 0, or <0 when the client is gone */
int control_client_process(struct ctl_client *c)
{
	while (client_can_work(c)) {
		char *nl;
		size_t len;

		if (c->list) {
			int r = control_list_fill(c);

			if (r < 0) {
				c->list = control_list_stream_free(c->list);
				(void)control_client_reply_error(c, "list: %s", strerror(-r));
			}
			break; /* one batch per turn; EPOLLOUT brings us back */
		}
		nl = c->in_len > 0 ? memchr(c->in, '\n', c->in_len) : NULL;
		if (!nl)
			break;
		len = (size_t)(nl - c->in) + 1;
		c->last_usec = loop_now_usec(c);
		(void)control_handle_line(c, c->in, len);
		memmove(c->in, c->in + len, c->in_len - len);
		c->in_len -= len;
	}
	return client_flush(c);
}

static int on_client_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct ctl_client *c = userdata;

	if ((revents & EPOLLIN) && !c->eof) {
		char buf[16384];
		ssize_t n = client_recv(c, buf, sizeof(buf));

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			client_free(c);
			return 0;
		}
		if (n == 0)
			c->eof = true; /* answer what it sent, then close */
		if (n > 0) {
			char *in = realloc(c->in, c->in_len + (size_t)n);

			if (!in) {
				client_free(c);
				return 0;
			}
			memcpy(in + c->in_len, buf, (size_t)n);
			c->in = in;
			c->in_len += (size_t)n;
		}
		if (control_client_process(c) < 0) /* freed */
			return 0;
		/* what is left is at most one partial line: cap it */
		if (c->in_len > CTL_LINE_MAX && !client_has_line(c)) {
			c->in_len = 0;
			(void)control_client_reply_error(c, "request too long (over %u bytes)",
							 CTL_LINE_MAX);
			c->closing = true;
			(void)client_flush(c);
		} else if (c->eof && !client_has_line(c) && c->in_len > 0) {
			c->in_len = 0; /* a last line without its newline is not a request */
			(void)client_flush(c);
		}
		return 0;
	}
	if (revents & EPOLLOUT) {
		(void)control_client_process(c);
		return 0;
	}
	if (revents & (EPOLLHUP | EPOLLERR))
		client_free(c);
	return 0;
}

/* At the limit: the least recently active client that is not waiting for a creation, or NULL. */
static struct ctl_client *client_oldest_idle(struct control *ctl)
{
	struct ctl_client *o = NULL, *c;

	LIST_FOREACH(clients, c, ctl->clients)
		if (!c->pending && (!o || c->last_usec < o->last_usec))
			o = c;
	return o;
}

/* Not root: say why without reading anything, and close. The line fits any socket buffer. */
static void refuse_peer(int cfd, uid_t uid)
{
	_cleanup_free_ char *line = NULL;
	static char msg[] = "permission denied: wormholed takes requests from root only";

	log_notice("control: refusing a client with uid %d", (int)uid);
	if (ctl_reply_format(&(struct ctl_reply){ .ok = false, .error = msg }, &line) >= 0)
		(void)send(cfd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
	safe_close(cfd);
}

static int on_ctl_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct control *ctl = userdata;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct ctl_client *c;
	int cfd, r;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warning_errno(-errno, "control: accept failed, ignoring");
		return 0;
	}
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		cred.uid = (uid_t)-1;
	if (cred.uid != 0) {
		refuse_peer(cfd, cred.uid);
		return 0;
	}
	if (ctl->n_clients >= CTL_MAX_CLIENTS) {
		struct ctl_client *o = client_oldest_idle(ctl);

		if (!o) {
			log_notice("control: %u clients, all busy, is the limit; refusing one",
				   CTL_MAX_CLIENTS);
			safe_close(cfd);
			return 0;
		}
		log_notice("control: %u clients is the limit, closing the least recently active",
			   CTL_MAX_CLIENTS);
		client_free(o);
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		safe_close(cfd);
		return 0;
	}
	c->ctl = ctl;
	c->fd = cfd;
	r = sd_event_add_io(sd_event_source_get_event(src), &c->src, cfd, EPOLLIN, on_client_io, c);
	if (r >= 0)
		r = sd_event_add_time(sd_event_source_get_event(src), &c->timer, CLOCK_MONOTONIC,
				      UINT64_MAX, 0, on_client_timer, c);
	if (r < 0) {
		c->src = sd_event_source_disable_unref(c->src);
		safe_close(cfd);
		free(c);
		return 0;
	}
	LIST_PREPEND(clients, ctl->clients, c);
	ctl->n_clients++;
	c->last_usec = loop_now_usec(c);
	client_update_events(c);
	return 0;
}

/*
 * Make @path free for our socket: nothing there, or a stale socket (no daemon answers: removed).
 * Anything else stays: a file that is not a socket (-ENOTSOCK; -H with a typo must not delete a
 * file), including a symlink (lstat), and a socket a live daemon answers on (-EADDRINUSE).
 */
static int ctl_path_free(const char *path, const struct sockaddr_un *un)
{
	_cleanup_close_ int probe = -EBADF;
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -errno;
	if (connect(probe, (const struct sockaddr *)un, sizeof(*un)) == 0)
		return -EADDRINUSE;
	if (errno != ECONNREFUSED)
		return -errno; /* EACCES, EAGAIN (a live daemon with a full backlog): leave it */
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int ctl_bind(const char *path, int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int r;

	if (strlen(path) >= sizeof(un.sun_path))
		return -ENAMETOOLONG;
	strcpy(un.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	r = ctl_path_free(path, &un);
	if (r < 0)
		return r;
	if (bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0)
		return -errno;
	if (chmod(path, 0600) < 0) {
		r = -errno;
		(void)unlink(path);
		return r;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		(void)unlink(path);
		return r;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int on_stream_run(sd_event_source *src, void *userdata)
{
	struct ctl_client *c = userdata;

	return on_client_io(src, -EBADF, EPOLLIN | EPOLLOUT, c);
}

static void on_stream_wake(struct stream *st, void *userdata)
{
	struct ctl_client *c = userdata;

	c->st_idle = false;
	(void)sd_event_source_set_enabled(c->src, SD_EVENT_ONESHOT);
}

int control_attach_stream(struct control *ctl, struct stream *st, void *origin)
{
	sd_event *e = ctl->d->event;
	struct ctl_client *c;
	int r;

	if (ctl->n_clients >= CTL_MAX_CLIENTS + CTL_MAX_PEER_CLIENTS)
		return -EBUSY;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ctl = ctl;
	c->fd = -EBADF;
	c->origin = origin;
	r = sd_event_add_defer(e, &c->src, on_stream_run, c);
	if (r >= 0)
		r = sd_event_add_time(e, &c->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_client_timer,
				      c);
	if (r < 0) {
		c->src = sd_event_source_disable_unref(c->src);
		free(c);
		return r;
	}
	c->st = st;
	st->wake = on_stream_wake;
	st->wake_userdata = c;
	LIST_PREPEND(clients, ctl->clients, c);
	ctl->n_clients++;
	c->last_usec = loop_now_usec(c);
	(void)sd_event_source_set_enabled(c->src, SD_EVENT_ONESHOT);
	return 0;
}

void control_set_peer_hooks(struct control *ctl,
			    void (*created)(struct segment *s, void *origin, void *userdata),
			    int (*renew)(struct segment *s, void *origin, void *userdata),
			    const char *(*name)(void *origin), void *userdata)
{
	ctl->peer_created = created;
	ctl->peer_renew = renew;
	ctl->peer_name = name;
	ctl->peer_userdata = userdata;
}

void control_set_peer_extras(struct control *ctl, const struct control_peer_extras *ops,
			     void *userdata)
{
	ctl->extras = ops;
	ctl->extras_userdata = userdata;
}

void control_forget_origin(struct control *ctl, void *origin)
{
	struct ctl_client *c;

	LIST_FOREACH(clients, c, ctl->clients)
		if (c->origin == origin)
			c->origin = NULL;
}

/* Progress of a creation (an image pull) goes to the client waiting for it. */
static void on_progress(struct daemon *d, struct segment *top, const char *text)
{
	struct control *ctl = d->progress_userdata;
	struct ctl_client *c;
	char *t;

	LIST_FOREACH(clients, c, ctl->clients) {
		if (!c->pending || c->pending->s != top)
			continue;
		t = strdup(text);
		if (t && control_client_queue(c, &(struct ctl_reply){ .progress = t }) >= 0) {
			free(t);
			(void)client_flush(c);
		} else
			free(t);
		return;
	}
}

int control_new(struct daemon *d, const char *path, int fd, struct control **ret)
{
	struct control *ctl;
	int r;

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->d = d;
	ctl->fd = fd;
	if (fd < 0) {
		r = ctl_bind(path, &ctl->fd);
		if (r < 0) {
			free(ctl);
			return r;
		}
		ctl->path = strdup(path);
		if (!ctl->path) {
			control_free(ctl);
			return -ENOMEM;
		}
	}
	r = sd_event_add_io(d->event, &ctl->src, ctl->fd, EPOLLIN, on_ctl_accept, ctl);
	if (r < 0) {
		control_free(ctl);
		return r;
	}
	d->progress = on_progress;
	d->progress_userdata = ctl;
	*ret = ctl;
	return 0;
}

struct control *control_free(struct control *ctl)
{
	if (!ctl)
		return NULL;
	if (ctl->d->progress_userdata == ctl) {
		ctl->d->progress = NULL;
		ctl->d->progress_userdata = NULL;
	}
	while (ctl->clients)
		client_free(ctl->clients);
	ctl->src = sd_event_source_disable_unref(ctl->src);
	ctl->fd = safe_close(ctl->fd);
	if (ctl->path)
		(void)unlink(ctl->path);
	free(ctl->path);
	free(ctl);
	return NULL;
}
