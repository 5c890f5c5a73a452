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
 * has not sent a full request within CTL_IDLE_USEC. A list is streamed: the order of the segments
 * is computed once in one linear pass, then CTL_LIST_BATCH lines are formatted each time the queue
 * falls under the bound, skipping segments freed in between. Of the CTL_MAX_CLIENTS slots, a new
 * root client takes the slot of the least recently active one when they are all used.
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

#include "chains.h"
#include "cleanup.h"
#include "config.h"
#include "control-show.h"
#include "control.h"
#include "ctl-proto.h"
#include "head.h"
#include "list.h"
#include "log.h"
#include "segment.h"
#include "spec.h"
#include "stream.h"
#include "tunnels.h"
#include "url.h"

#define CTL_MAX_CLIENTS	     256
#define CTL_MAX_PEER_CLIENTS 1024		   /* control streams from peer links, on top */
#define CTL_OUT_MAX	     (64u * 1024u)	   /* stop reading (and listing) above this */
#define CTL_LIST_BATCH	     1024		   /* segment lines formatted at a time */
#define CTL_IDLE_USEC	     (5 * 1000 * 1000ULL)  /* to send a full request */
#define CTL_DRAIN_USEC	     (10 * 1000 * 1000ULL) /* for pending output to make progress */

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
	/* requests over peer links (control_set_peer_hooks()) */
	void (*peer_created)(struct segment *s, void *origin, void *userdata);
	int (*peer_renew)(struct segment *s, void *origin, void *userdata);
	const char *(*peer_name)(void *origin);
	void *peer_userdata;
	const struct control_peer_extras *extras;
	void *extras_userdata;
};

struct ctl_client {
	struct control *ctl;
	LIST_FIELDS(struct ctl_client, clients);
	int fd;
	sd_event_source *src;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len;
	struct create_req *pending;
	struct tunnels_wait *twait; /* a tunnel request waiting for a peer */
	struct list_stream *list;   /* a list reply being streamed */
	sd_event_source *timer;	    /* idle or drain deadline */
	uint64_t last_usec;	    /* accepted, took a request, or sent bytes */
	bool closing;		    /* close once the output is flushed */
	bool eof;		    /* the client will send nothing more */
	/* a client on a peer link (control_attach_stream()): @fd is -1, @src a defer source */
	struct stream *st;
	bool st_idle; /* its last read said -EAGAIN: wait for a wake */
	void *origin; /* the link it came on */
};

struct list_stream {
	struct segment **order; /* parents before their children; may hold freed pointers */
	size_t n, pos;
	uint64_t count; /* lines sent */
};

static struct list_stream *list_stream_free(struct list_stream *l)
{
	if (l)
		free(l->order);
	free(l);
	return NULL;
}

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
	c->list = list_stream_free(c->list);
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

/* A segment for a peer daemon's `remote` word: its head is the streams on the peer link. */
static int handle_create_peer(struct ctl_client *c, struct ctl_request *req, struct spec *spec)
{
	_cleanup_(spec_freep) struct spec *sp = spec;
	_cleanup_free_ char *err = NULL;
	struct endpoint head = ENDPOINT_EMPTY;
	struct control *ctl = c->ctl;
	struct url u = { 0 };
	struct segment *s = NULL;
	int r;

	if (!c->origin)
		return client_reply_error(c, "create: 'peer_head' only comes over a peer link");
	if (!sp->id)
		return client_reply_error(c, "create: a peer's segment needs an id");
	r = url_parse(req->peer_head, &u, &err);
	if (r < 0)
		return client_reply_error(c, "create: 'peer_head': %s", err ?: strerror(-r));
	head.proto = u.proto;
	head.port = u.port;
	head.host = strdup("peer-link"); /* nothing listens: only for display */
	url_done(&u);
	if (!head.host)
		return -ENOMEM;
	/* the peer's remote words may wait (a container start); its reply waits with them */
	{
		struct create_req *cr = calloc(1, sizeof(*cr));

		if (!cr) {
			endpoint_done(&head);
			return -ENOMEM;
		}
		r = segment_create_with_head(ctl->d, &head_peer_ops, sp->id, sp, sp->top, &head,
					     NULL, on_created, cr, &s, &err);
		endpoint_done(&head);
		if (r == 1) {
			TAKE_PTR(sp);
			cr->s = s;
			cr->client = c;
			c->pending = cr;
			if (ctl->peer_created)
				ctl->peer_created(s, c->origin, ctl->peer_userdata);
			return 0;
		}
		free(cr);
	}
	if (r < 0) {
		log_notice("create for peer %s failed: %s", ctl->peer_name(c->origin),
			   err ?: strerror(-r));
		return client_reply_error(c, "%s", err ?: strerror(-r));
	}
	TAKE_PTR(sp);
	if (ctl->peer_created)
		ctl->peer_created(s, c->origin, ctl->peer_userdata);
	return reply_created(c, s);
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
	if (req->peer_head)
		return handle_create_peer(c, req, TAKE_PTR(sp));
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

/*
 * An open-addressing table of segment pointers (a power of two, at most half full), for the two
 * linear passes of a list: parent lookups while ordering, and which segments still exist while
 * streaming. Values are indexes into the registry walk.
 */
struct ptr_table {
	const struct segment **keys;
	size_t *vals;
	size_t mask;
};

static void ptr_table_done(struct ptr_table *t)
{
	free(t->keys);
	free(t->vals);
}

static int ptr_table_init(struct ptr_table *t, size_t n)
{
	size_t size = 16;

	while (size < 2 * n)
		size *= 2;
	t->keys = calloc(size, sizeof(*t->keys));
	t->vals = calloc(size, sizeof(*t->vals));
	t->mask = size - 1;
	if (!t->keys || !t->vals) {
		ptr_table_done(t);
		return -ENOMEM;
	}
	return 0;
}

static size_t ptr_hash(const struct segment *p, size_t mask)
{
	return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ULL >> 17) & mask;
}

static void ptr_table_put(struct ptr_table *t, const struct segment *p, size_t v)
{
	size_t i = ptr_hash(p, t->mask);

	while (t->keys[i] && t->keys[i] != p)
		i = (i + 1) & t->mask;
	t->keys[i] = p;
	t->vals[i] = v;
}

static bool ptr_table_get(const struct ptr_table *t, const struct segment *p, size_t *ret)
{
	for (size_t i = ptr_hash(p, t->mask); t->keys[i]; i = (i + 1) & t->mask)
		if (t->keys[i] == p) {
			*ret = t->vals[i];
			return true;
		}
	return false;
}

/*
 * Top segments in creation order, each followed by its descendants (children in creation order),
 * in O(n): index the registry, link each segment to its parent's child list, walk the trees.
 */
static int list_order(struct daemon *d, struct list_stream *l)
{
	_cleanup_free_ struct segment **reg = NULL;
	_cleanup_free_ size_t *first = NULL, *last = NULL, *next = NULL, *up = NULL;
	struct ptr_table t = { 0 };
	size_t n = 0, k = 0;
	int r;

	for (struct segment *s = d->segments; s; s = s->next)
		n++;
	reg = calloc(n + 1, sizeof(*reg));
	l->order = calloc(n + 1, sizeof(*l->order));
	first = calloc(n + 1, sizeof(*first));
	last = calloc(n + 1, sizeof(*last));
	next = calloc(n + 1, sizeof(*next));
	up = calloc(n + 1, sizeof(*up));
	if (!reg || !l->order || !first || !last || !next || !up)
		return -ENOMEM;
	r = ptr_table_init(&t, n);
	if (r < 0)
		return r;
	for (struct segment *s = d->segments; s; s = s->next) {
		reg[k] = s;
		first[k] = last[k] = next[k] = up[k] = SIZE_MAX;
		ptr_table_put(&t, s, k++);
	}
	for (size_t i = 0; i < k; i++) { /* k == n: the registry did not change meanwhile */
		size_t p;

		if (!reg[i]->parent || !ptr_table_get(&t, reg[i]->parent, &p))
			continue;
		up[i] = p;
		if (last[p] == SIZE_MAX)
			first[p] = i;
		else
			next[last[p]] = i;
		last[p] = i;
	}
	ptr_table_done(&t);
	for (size_t top = 0; top < k; top++) {
		size_t cur = top;

		/* a child whose parent is not registered (yet) is not shown, as before */
		if (reg[top]->parent)
			continue;
		for (;;) {
			l->order[l->n++] = reg[cur];
			if (first[cur] != SIZE_MAX) {
				cur = first[cur];
				continue;
			}
			while (cur != top && next[cur] == SIZE_MAX)
				cur = up[cur];
			if (cur == top)
				break;
			cur = next[cur];
		}
	}
	return 0;
}

/* The segments @s made on peer daemons (`remote`), one line each, with the peer as head. */
static int list_remote_children(struct ctl_client *c, struct segment *s)
{
	const char *rid, *host;
	char *state = NULL;
	size_t iter = 0;

	while ((rid = chain_remote_child(s, &iter, &host, &state))) {
		struct ctl_reply rep = { .has_segment = true };
		int r;

		rep.segment.id = strdup(rid);
		rep.segment.parent = strdup(s->id);
		r = asprintf(&rep.segment.head, "peer://%s", host);
		if (r < 0)
			rep.segment.head = NULL;
		rep.segment.tail = strdup("(on the peer)");
		rep.segment.state = state ?: strdup("remote");
		state = NULL;
		r = rep.segment.id && rep.segment.parent && rep.segment.head && rep.segment.tail &&
				    rep.segment.state
			    ? client_queue(c, &rep)
			    : -ENOMEM;
		ctl_segment_info_done(&rep.segment);
		if (r < 0)
			return r;
		c->list->count++;
	}
	return 0;
}

struct links_ctx {
	struct ctl_client *c;
	int r;
};

static void emit_link(const struct ctl_link_info *i, void *ctx)
{
	struct links_ctx *lc = ctx;

	if (lc->r >= 0)
		lc->r = client_queue(lc->c, &(struct ctl_reply){ .has_link = true, .link = *i });
}

/*
 * The next batch of segment lines, then the link lines and the end line. Segments may have been freed since the
 * order was taken (a delete, a failed trigger's children): only pointers still in the registry
 * are read, which costs one pass over it per batch.
 */
static int list_fill(struct ctl_client *c)
{
	struct list_stream *l = c->list;
	struct ptr_table live = { 0 };
	size_t n = 0, emitted = 0;
	int r = 0;

	for (struct segment *s = c->ctl->d->segments; s; s = s->next)
		n++;
	r = ptr_table_init(&live, n);
	if (r < 0)
		return r;
	for (struct segment *s = c->ctl->d->segments; s; s = s->next)
		ptr_table_put(&live, s, 0);
	while (l->pos < l->n && emitted < CTL_LIST_BATCH) {
		struct segment *s = l->order[l->pos];
		struct ctl_reply rep = { .has_segment = true };
		size_t dummy;

		if (!ptr_table_get(&live, s, &dummy)) {
			l->pos++;
			continue;
		}
		r = control_segment_info(s, &rep.segment);
		if (r >= 0)
			r = client_queue(c, &rep);
		ctl_segment_info_done(&rep.segment);
		if (r >= 0)
			r = list_remote_children(c, s);
		if (r < 0)
			break;
		l->pos++;
		l->count++;
		emitted++;
	}
	ptr_table_done(&live);
	if (r < 0)
		return r;
	if (l->pos == l->n && c->ctl->extras && c->ctl->extras->links) {
		struct links_ctx lc = { .c = c };

		c->ctl->extras->links(emit_link, &lc, c->ctl->extras_userdata);
		if (lc.r < 0)
			return lc.r;
	}
	if (l->pos == l->n) {
		r = client_queue(
			c, &(struct ctl_reply){ .ok = true, .has_count = true, .count = l->count });
		c->list = list_stream_free(c->list);
	}
	return r;
}

static int handle_list(struct ctl_client *c, struct ctl_request *req)
{
	struct list_stream *l;
	int r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	r = list_order(c->ctl->d, l);
	if (r < 0) {
		list_stream_free(l);
		return r;
	}
	c->list = l; /* client_process() streams it */
	return 0;
}

static int handle_renew(struct ctl_client *c, struct ctl_request *req)
{
	struct segment *s = segment_find(c->ctl->d, req->id);

	if (!c->origin || !c->ctl->peer_renew)
		return client_reply_error(c, "renew: only over a peer link");
	if (!s)
		return client_reply_error(c, "segment '%s': no such segment", req->id);
	if (c->ctl->peer_renew(s, c->origin, c->ctl->peer_userdata) < 0)
		return client_reply_error(c, "segment '%s' has no lease", req->id);
	return client_queue(c, &(struct ctl_reply){ .ok = true });
}

static void on_tunnel_reply(void *userdata, const struct ctl_reply *rep, int final)
{
	struct ctl_client *c = userdata;
	bool waiting = c->twait != NULL;

	(void)client_queue(c, rep);
	if (!final)
		return;
	c->twait = NULL;
	if (waiting)
		(void)client_process(c); /* sends it, and takes the next request */
}

/* tunnel-create/-delete/-list, and the requests between daemons (wormholed/tunnels.c) */
static int handle_tunnel(struct ctl_client *c, struct ctl_request *req)
{
	struct ctl_reply rep = { 0 };
	int r;

	r = tunnels_request(req, c->origin != NULL, &rep, on_tunnel_reply, c, &c->twait);
	if (r == 0) {
		r = client_queue(c, &rep);
		ctl_reply_done(&rep);
	}
	return r < 0 ? r : 0;
}

static int handle_show(struct ctl_client *c, struct ctl_request *req)
{
	struct ctl_reply rep = { 0 };
	int r;

	r = control_show(c->ctl->d, req->id, &rep);
	if (r < 0)
		return r;
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

static int handle_hello(struct ctl_client *c, struct ctl_request *req)
{
	_cleanup_free_ char *err = NULL;
	const struct control_peer_extras *x = c->ctl->extras;
	int r;

	if (!c->origin || !x || !x->hello)
		return client_reply_error(c, "hello: only over a peer link");
	r = x->hello(c->origin, req->name, req->instance, &err, c->ctl->extras_userdata);
	if (r < 0)
		return client_reply_error(c, "hello: %s", err ?: strerror(-r));
	return client_queue(c, &(struct ctl_reply){ .ok = true });
}

static int handle_link(struct ctl_client *c, struct ctl_request *req)
{
	_cleanup_free_ char *err = NULL;
	const struct control_peer_extras *x = c->ctl->extras;
	int r;

	if (!x || !x->link)
		return client_reply_error(c,
					  "%s: this wormholed has no peer key; make one with "
					  "`wormhole keygen` and start wormholed with -K PATH",
					  ctl_op_name(req->op));
	r = x->link(req->name, req->op == CTL_OP_LINK, &err, c->ctl->extras_userdata);
	if (r < 0)
		return client_reply_error(c, "%s '%s': %s", ctl_op_name(req->op), req->name,
					  err ?: strerror(-r));
	return client_queue(c, &(struct ctl_reply){ .ok = true });
}

static const struct {
	enum ctl_op op;
	int (*handler)(struct ctl_client *c, struct ctl_request *req);
} handlers[] = {
	{ CTL_OP_CREATE, handle_create },
	{ CTL_OP_DELETE, handle_delete },
	{ CTL_OP_LIST, handle_list },
	{ CTL_OP_PING, handle_ping },
	{ CTL_OP_VERSION, handle_version },
	{ CTL_OP_RENEW, handle_renew },
	{ CTL_OP_TUNNEL_CREATE, handle_tunnel },
	{ CTL_OP_TUNNEL_DELETE, handle_tunnel },
	{ CTL_OP_TUNNEL_LIST, handle_tunnel },
	{ CTL_OP_TUNNEL_PREPARE, handle_tunnel },
	{ CTL_OP_TUNNEL_INSTALL, handle_tunnel },
	{ CTL_OP_TUNNEL_REKEY, handle_tunnel },
	{ CTL_OP_SHOW, handle_show },
	{ CTL_OP_HELLO, handle_hello },
	{ CTL_OP_LINK, handle_link },
	{ CTL_OP_UNLINK, handle_link },
};

static int client_handle_line(struct ctl_client *c, const char *line, size_t len)
{
	_cleanup_free_ char *err = NULL;
	struct ctl_request req = { 0 };
	int r;

	r = ctl_request_parse(line, len, &req, &err);
	if (r < 0)
		return client_reply_error(c, "bad request: %s", err ?: strerror(-r));
	if (c->st && !c->origin) { /* its link ended: nothing vouches for it any more */
		ctl_request_done(&req);
		return client_reply_error(c, "the peer link of this request ended");
	}
	if (c->origin && c->ctl->extras && c->ctl->extras->authorize) {
		r = c->ctl->extras->authorize(c->origin, &req, &err, c->ctl->extras_userdata);
		if (r < 0) {
			r = client_reply_error(c, "%s", err ?: strerror(-r));
			ctl_request_done(&req);
			return r;
		}
	}
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
	while (client_can_work(c)) {
		char *nl;
		size_t len;

		if (c->list) {
			int r = list_fill(c);

			if (r < 0) {
				c->list = list_stream_free(c->list);
				(void)client_reply_error(c, "list: %s", strerror(-r));
			}
			break; /* one batch per turn; EPOLLOUT brings us back */
		}
		nl = c->in_len > 0 ? memchr(c->in, '\n', c->in_len) : NULL;
		if (!nl)
			break;
		len = (size_t)(nl - c->in) + 1;
		c->last_usec = loop_now_usec(c);
		(void)client_handle_line(c, c->in, len);
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
		if (client_process(c) < 0) /* freed */
			return 0;
		/* what is left is at most one partial line: cap it */
		if (c->in_len > CTL_LINE_MAX && !client_has_line(c)) {
			c->in_len = 0;
			(void)client_reply_error(c, "request too long (over %u bytes)",
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
		(void)client_process(c);
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
