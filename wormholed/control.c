/* SPDX-License-Identifier: MIT */
/*
 * control.c - the control server: accept, check the peer is root, read lines, dispatch, reply
 *
 * Requests are handled one at a time per client, in order; a create whose words take time (a
 * container start) leaves its client busy until the reply goes out, while other clients and the
 * data path carry on. Input lines are capped (CTL_LINE_MAX) before any parsing, and a client that
 * is not uid 0 gets one error line and is disconnected without anything of its being parsed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "chains.h"
#include "cleanup.h"
#include "config.h"
#include "control.h"
#include "ctl-proto.h"
#include "log.h"
#include "segment.h"
#include "spec.h"

#define CTL_MAX_CLIENTS 256

struct ctl_client;

struct create_req {
	struct ctl_client *client;
	struct segment *s; /* the top segment being created */
};

struct control {
	struct daemon *d;
	int fd;
	sd_event_source *src;
	char *path; /* unlinked at the end when we bound it */
	struct ctl_client *clients;
	unsigned n_clients;
};

struct ctl_client {
	struct control *ctl;
	struct ctl_client *prev, *next;
	int fd;
	sd_event_source *src;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len;
	struct create_req *pending;
	bool closing; /* close once the output is flushed */
	bool refused; /* not root: its request is read to the end of line, never parsed */
};

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
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->n_clients--;
	c->src = sd_event_source_disable_unref(c->src);
	safe_close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void client_update_events(struct ctl_client *c)
{
	uint32_t ev = 0;

	if (!c->pending && !c->closing)
		ev |= EPOLLIN;
	if (c->out_len > 0)
		ev |= EPOLLOUT;
	(void)sd_event_source_set_io_events(c->src, ev);
}

/* Return: 0, or <0 when the client is gone (freed) */
static int client_flush(struct ctl_client *c)
{
	while (c->out_len > 0) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

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
	}
	if (c->out_len == 0 && c->closing) {
		client_free(c);
		return -EPIPE;
	}
	client_update_events(c);
	return 0;
}

static int client_queue(struct ctl_client *c, const struct ctl_reply *rep)
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

static int client_reply_error(struct ctl_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int client_reply_error(struct ctl_client *c, const char *fmt, ...)
{
	_cleanup_free_ char *m = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	static char oom[] = "out of memory";

	return client_queue(c, &(struct ctl_reply){ .ok = false, .error = m ?: oom });
}

/* ---- handlers ----------------------------------------------------------------------------- */

static int reply_created(struct ctl_client *c, struct segment *s)
{
	_cleanup_free_ char *url = segment_head_url(s, false);

	return client_queue(c, &(struct ctl_reply){ .ok = true, .id = s->id, .url = url });
}

static int client_process(struct ctl_client *c);

static void on_created(struct segment *s, int r, char *error, void *userdata)
{
	_cleanup_free_ struct create_req *req = userdata;
	_cleanup_free_ char *err = error;
	struct ctl_client *c = req->client;

	if (r < 0)
		log_notice("create failed: %s", err ?: strerror(-r));
	c->pending = NULL;
	if (r < 0)
		(void)client_reply_error(c, "%s", err ?: strerror(-r));
	else
		(void)reply_created(c, s);
	(void)client_process(c); /* the next request, if one is waiting */
}

static int handle_create(struct ctl_client *c, struct ctl_request *req)
{
	_cleanup_(spec_freep) struct spec *sp = NULL;
	_cleanup_free_ char *err = NULL;
	struct create_req *cr;
	struct segment *s = NULL;
	int r;

	r = spec_parse(req->words, &sp, &err);
	if (r < 0)
		return client_reply_error(c, "invalid chain spec: %s", err ?: strerror(-r));
	r = chain_check_supported(sp->top, &err);
	if (r < 0)
		return client_reply_error(c, "%s", err ?: strerror(-r));
	cr = calloc(1, sizeof(*cr));
	if (!cr)
		return -ENOMEM;
	r = segment_create(c->ctl->d, sp->id, sp, sp->top, NULL, NULL, on_created, cr, &s, &err);
	if (r == 1) {
		TAKE_PTR(sp);
		cr->s = s;
		cr->client = c;
		c->pending = cr;
		return 0;
	}
	free(cr);
	if (r < 0) {
		log_notice("create failed: %s", err ?: strerror(-r));
		return client_reply_error(c, "%s", err ?: strerror(-r));
	}
	TAKE_PTR(sp);
	return reply_created(c, s);
}

static int handle_delete(struct ctl_client *c, struct ctl_request *req)
{
	struct segment *s = segment_find(c->ctl->d, req->id);

	if (!s)
		return client_reply_error(c, "segment '%s': no such segment", req->id);
	if (s->parent)
		return client_reply_error(c,
					  "segment '%s' is part of segment '%s'; delete that one",
					  req->id, s->parent->id);
	segment_free(s);
	return client_queue(c, &(struct ctl_reply){ .ok = true });
}

static int segment_info(const struct segment *s, struct ctl_segment_info *i)
{
	*i = (struct ctl_segment_info){
		.conns_active = s->conns_active,
		.conns_total = s->conns_total,
	};
	segment_bytes(s, &i->bytes_in, &i->bytes_out);
	i->id = strdup(s->id);
	i->parent = s->parent ? strdup(s->parent->id) : NULL;
	i->head = segment_head_url(s, true);
	i->tail = segment_tail_url(s);
	i->state = segment_state_text(s);
	if (!i->id || (s->parent && !i->parent) || !i->head || !i->tail || !i->state)
		return -ENOMEM;
	return 0;
}

/* Top segments in creation order, each followed by its descendants. */
static int list_add(struct daemon *d, const struct segment *parent, struct ctl_reply *rep)
{
	for (struct segment *s = d->segments; s; s = s->next) {
		int r;

		if (s->parent != parent)
			continue;
		r = segment_info(s, &rep->segments[rep->n_segments++]);
		if (r < 0)
			return r;
		r = list_add(d, s, rep);
		if (r < 0)
			return r;
	}
	return 0;
}

static int handle_list(struct ctl_client *c, struct ctl_request *req)
{
	struct ctl_reply rep = { .ok = true, .has_segments = true };
	size_t n = 0;
	int r;

	for (struct segment *s = c->ctl->d->segments; s; s = s->next)
		n++;
	rep.segments = calloc(n + 1, sizeof(*rep.segments));
	if (!rep.segments)
		return -ENOMEM;
	r = list_add(c->ctl->d, NULL, &rep);
	if (r >= 0)
		r = client_queue(c, &rep);
	ctl_reply_done(&rep);
	return r;
}

static int handle_ping(struct ctl_client *c, struct ctl_request *req)
{
	return client_queue(c, &(struct ctl_reply){ .ok = true });
}

static int handle_version(struct ctl_client *c, struct ctl_request *req)
{
	char version[] = WORMHOLE_VERSION;

	return client_queue(c, &(struct ctl_reply){ .ok = true, .version = version });
}

static const struct {
	enum ctl_op op;
	int (*handler)(struct ctl_client *c, struct ctl_request *req);
} handlers[] = {
	{ CTL_OP_CREATE, handle_create },   { CTL_OP_DELETE, handle_delete },
	{ CTL_OP_LIST, handle_list },	    { CTL_OP_PING, handle_ping },
	{ CTL_OP_VERSION, handle_version },
};

static int client_handle_line(struct ctl_client *c, const char *line, size_t len)
{
	_cleanup_free_ char *err = NULL;
	struct ctl_request req = { 0 };
	int r;

	r = ctl_request_parse(line, len, &req, &err);
	if (r < 0)
		return client_reply_error(c, "bad request: %s", err ?: strerror(-r));
	r = -EOPNOTSUPP;
	for (size_t i = 0; i < ELEMENTSOF(handlers); i++)
		if (handlers[i].op == req.op) {
			log_debug("control: %s", ctl_op_name(req.op));
			r = handlers[i].handler(c, &req);
			break;
		}
	ctl_request_done(&req);
	if (r < 0)
		return client_reply_error(c, "%s: %s", ctl_op_name(req.op), strerror(-r));
	return 0;
}

/* Return: 0, or <0 when the client is gone */
static int client_process(struct ctl_client *c)
{
	while (!c->pending && !c->closing) {
		char *nl = memchr(c->in, '\n', c->in_len);
		size_t len;

		if (!nl)
			break;
		if (c->refused) {
			/* answer only after the request arrived: closing a unix socket with unread
			 * data would reset the client before it read why */
			(void)client_reply_error(c, "permission denied: wormholed takes requests "
						    "from root only");
			c->closing = true;
			break;
		}
		len = (size_t)(nl - c->in) + 1;
		(void)client_handle_line(c, c->in, len);
		memmove(c->in, c->in + len, c->in_len - len);
		c->in_len -= len;
	}
	return client_flush(c);
}

static int on_client_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct ctl_client *c = userdata;

	if (revents & EPOLLIN) {
		char buf[16384];
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_free(c);
			return 0;
		}
		if (n > 0) {
			char *in;

			if (c->in_len + (size_t)n > CTL_LINE_MAX) {
				c->in_len = 0;
				(void)client_reply_error(c, "request too long (over %u bytes)",
							 CTL_LINE_MAX);
				c->closing = true;
				(void)client_flush(c);
				return 0;
			}
			in = realloc(c->in, c->in_len + (size_t)n);
			if (!in) {
				client_free(c);
				return 0;
			}
			memcpy(in + c->in_len, buf, (size_t)n);
			c->in = in;
			c->in_len += (size_t)n;
		}
		(void)client_process(c); /* may free c */
		return 0;
	}
	if (revents & EPOLLOUT) {
		(void)client_flush(c);
		return 0;
	}
	if (revents & (EPOLLHUP | EPOLLERR))
		client_free(c);
	return 0;
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
	if (cred.uid != 0)
		log_notice("control: refusing a client with uid %d", (int)cred.uid);
	if (ctl->n_clients >= CTL_MAX_CLIENTS) {
		log_notice("control: %u clients is the limit, refusing one", CTL_MAX_CLIENTS);
		safe_close(cfd);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		safe_close(cfd);
		return 0;
	}
	c->ctl = ctl;
	c->fd = cfd;
	c->refused = cred.uid != 0;
	r = sd_event_add_io(sd_event_source_get_event(src), &c->src, cfd, EPOLLIN, on_client_io, c);
	if (r < 0) {
		safe_close(cfd);
		free(c);
		return 0;
	}
	c->next = ctl->clients;
	if (ctl->clients)
		ctl->clients->prev = c;
	ctl->clients = c;
	ctl->n_clients++;
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
	/* refuse to steal the socket of a daemon that still answers */
	{
		_cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&un, sizeof(un)) == 0)
			return -EADDRINUSE;
	}
	(void)unlink(path);
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

/* Progress of a creation (an image pull) goes to the client waiting for it. */
static void on_progress(struct daemon *d, struct segment *top, const char *text)
{
	struct control *ctl = d->progress_userdata;
	char *t;

	for (struct ctl_client *c = ctl->clients; c; c = c->next) {
		if (!c->pending || c->pending->s != top)
			continue;
		t = strdup(text);
		if (t && client_queue(c, &(struct ctl_reply){ .progress = t }) >= 0) {
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
