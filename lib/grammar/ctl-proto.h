/* SPDX-License-Identifier: MIT */
/*
 * ctl-proto.h - the control protocol: one JSON object per line, both ways
 *
 * Requests:  {"op":"create","words":["url",":9000","tail","url",":9001"]}
 *            {"op":"delete","id":"web"}  {"op":"list"}  {"op":"ping"}  {"op":"version"}
 *            {"op":"show","id":"web"}
 *            from a peer daemon over the peer link (lib/peer) also:
 *            {"op":"create","words":[...],"peer_head":"tcp://127.0.0.1:9000"}
 *            {"op":"renew","id":"web.1a2b3c"}
 *            {"op":"hello","name":"homelab","instance":"5f0c..."}  (a daemon that dialed out)
 *            {"op":"link","name":"gw.example:9999"}  {"op":"unlink","name":"gw.example"}
 *            tunnels: {"op":"tunnel-create","host":"198.18.0.2","udp":false}
 *            {"op":"tunnel-delete","host":"198.18.0.2"}  {"op":"tunnel-list"}
 *            and between daemons only (peer links), each carrying the receiver's half:
 *            {"op":"tunnel-prepare","tunnel":{...}}  {"op":"tunnel-install","tunnel":{...}}
 *            {"op":"tunnel-rekey","step":1,"tunnel":{...}}  {"op":"tunnel-delete","tunnel":{...}}
 * Replies:   {"ok":true,"id":"web","url":"tcp://127.0.0.1:9000"}
 *            {"ok":true,"version":"0.1.0"}
 *            {"ok":false,"error":"segment 'web': no such segment"}
 *            {"ok":true,"tunnels":[{"peer":"198.18.0.2:9999","local_ov":"100.64.1.2",...}]}
 *            show: {"ok":true,"segments":[the segment, then its descendants],
 *                   "conns":[{"segment":"web","id":12,"client":"127.0.0.1:40022",
 *                             "tail":"tcp://127.0.0.1:9001","state":"relaying","age_ms":3200,
 *                             "bytes_in":10,"bytes_out":10}],"conns_more":0}
 *            (at most CTL_SHOW_CONNS connections; conns_more counts the rest)
 * A long request (a create that pulls an image) may be preceded by progress lines
 * {"progress":"..."}; the final line is the one with "ok". A list is streamed: one line per
 * segment, {"segment":{"id":"web",...}}, then the end line {"ok":true,"count":N} (N lines came);
 * so no line grows with the number of segments. Peer links come as lines {"link":{...}} before the
 * end line (not counted in "count"). The older single line {"ok":true,"segments":[...]}
 * is still parsed (and formatted, for `list --json`).
 * An object with the same key twice is refused at every level the parsers read.
 * This module is the only control-protocol code that touches yajl; trees are freed right after
 * parsing into the plain structs below. Lines are capped at CTL_LINE_MAX before parsing.
 * A line is UTF-8 text without NUL bytes, and no string in it may hold \u0000: the parsers refuse
 * such lines rather than cut a string at the NUL. Counters are uint64_t in the structs but JSON
 * integers are read and written as int64_t: a counter above INT64_MAX is written as INT64_MAX.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_LINE_MAX (256u * 1024u)

enum ctl_op {
	CTL_OP_CREATE,
	CTL_OP_DELETE,
	CTL_OP_LIST,
	CTL_OP_PING,
	CTL_OP_VERSION,
	CTL_OP_RENEW, /* peer links only: renew the lease of segment id */
	CTL_OP_HELLO, /* peer links only: the dialing daemon's name (and run instance) */
	CTL_OP_LINK,  /* keep a link dialed out to peer "name" (host[:port]) */
	CTL_OP_UNLINK,
	CTL_OP_TUNNEL_CREATE,
	CTL_OP_TUNNEL_DELETE, /* with host: both halves; with tunnel (peer links): the receiver's */
	CTL_OP_TUNNEL_LIST,
	CTL_OP_TUNNEL_PREPARE, /* peer links only */
	CTL_OP_TUNNEL_INSTALL, /* peer links only: carries keys */
	CTL_OP_TUNNEL_REKEY,   /* peer links only: carries keys */
	CTL_OP_SHOW,	       /* a segment, its descendants and their connections */
	_CTL_OP_MAX,
};

/*
 * One half of an IPsec tunnel as it travels: addresses as dotted IPv4 text, keys as hex (only in
 * tunnel-install and tunnel-rekey, which go over the TLS peer link only), counters in lists.
 * In requests between daemons it is the receiver's half; in replies the replier's.
 */
struct ctl_tunnel {
	char *peer;		    /* the peer daemon, "host:port" (lists) */
	char *local, *remote;	    /* underlay addresses */
	char *local_ov, *remote_ov; /* overlay addresses */
	char *encap;		    /* "esp" or "espinudp" */
	char *state;		    /* "complete", "partial" (lists) */
	char *out_key, *in_key;	    /* 40 hex digits each, or NULL */
	uint64_t reqid, out_spi, in_spi;
	uint64_t local_port, remote_port; /* espinudp only */
	uint64_t rekey_sec;
	uint64_t out_bytes, out_packets, in_bytes, in_packets;
	uint64_t rekeys; /* lists: rekeys done by this daemon */
};

#define CTL_SHOW_CONNS 1000 /* connections in one show reply; about 200 bytes each */

/* One connection of a show reply. */
struct ctl_conn_info {
	char *segment; /* the segment it belongs to */
	uint64_t id;
	char *client; /* "127.0.0.1:40022" */
	char *tail;   /* "tcp://127.0.0.1:9001" */
	char *state;  /* "waiting", "connecting", "relaying" */
	uint64_t age_ms;
	uint64_t bytes_in, bytes_out;
};

struct ctl_request {
	enum ctl_op op;
	char *id;     /* delete, renew, show */
	char **words; /* create: NULL-terminated */
	/* create, from a peer daemon only: the new segment's head is the streams arriving on
	 * the peer link, and this URL ("tcp://127.0.0.1:9000") is the creator's tail, which
	 * the segment's tail defaults from; NULL: an ordinary create */
	char *peer_head;
	char *name;	/* hello: the daemon's name; link, unlink: the peer host[:port] */
	char *instance; /* hello: random per daemon run (a reconnect is not a second claim) */
	char *host;	/* tunnel-create, tunnel-delete */
	bool udp;	/* tunnel-create: ESP-in-UDP */
	uint64_t step;	/* tunnel-rekey: 1 or 2 */
	struct ctl_tunnel *tunnel; /* tunnel-prepare/-install/-rekey, tunnel-delete from a peer */
};

struct ctl_link_info {
	char *name;	   /* the peer's name ("homelab") or its address when it has none */
	char *address;	   /* "198.18.0.2:9999" */
	char *direction;   /* "out" (we dialed), "in" */
	char *state;	   /* "up", "connecting", "backoff" */
	char *key;	   /* the key it authenticated with (its id), "" for the default key */
	uint64_t age_sec;  /* since it came up */
	uint64_t streams;  /* open now */
	uint64_t bytes_in; /* TLS bytes received on it */
	uint64_t bytes_out;
};

/* One tail of a segment that balances over several (`balance MODE tail ... tail ...`). */
struct ctl_tail_info {
	char *address; /* "tcp://127.0.0.1:8081" */
	char *state;   /* "up", or "down" (its last open failed; skipped for a while) */
	uint64_t conns_active;
	uint64_t conns_total; /* opened */
	uint64_t failures;    /* opens that failed */
};

struct ctl_segment_info {
	char *id;
	char *parent; /* NULL for a top segment */
	char *head;   /* "tcp://127.0.0.1:9000" */
	char *tail;
	char *state; /* "listening", "armed", "triggering" */
	uint64_t conns_active;
	uint64_t conns_total;
	uint64_t bytes_in;	     /* from clients, toward the tail */
	uint64_t bytes_out;	     /* from the tail, back to clients */
	struct ctl_tail_info *tails; /* a balancing segment's tails ("tails"), else NULL */
	size_t n_tails;
};

struct ctl_reply {
	bool ok;
	char *error;
	char *progress; /* a progress line (ok is meaningless then) */
	char *id;
	char *url;
	char *version;
	struct ctl_segment_info *segments;
	size_t n_segments;
	bool has_segments;
	bool has_segment; /* a list line {"segment":{...}} (ok is meaningless then) */
	struct ctl_segment_info segment;
	bool has_link; /* a list line {"link":{...}} */
	struct ctl_link_info link;
	struct ctl_link_info *links; /* gathered by the client */
	size_t n_links;
	bool has_count; /* the end line of a list: "count" segment lines came before it */
	uint64_t count;
	struct ctl_tunnel *tunnels; /* tunnel-create (one), tunnel-list, tunnel-prepare (one) */
	size_t n_tunnels;
	bool has_tunnels;
	struct ctl_conn_info *conns; /* show */
	size_t n_conns;
	bool has_conns;
	uint64_t conns_more; /* show: connections left out (over CTL_SHOW_CONNS) */
};

/**
 * ctl_op_name() - Return: "create", "delete", ... for @op
 */
const char *ctl_op_name(enum ctl_op op);

/**
 * ctl_request_format() - Serialize @req as one line, '\n' included
 * @ret:	malloc'ed, NUL-terminated, on success only
 *
 * Return: 0, -EINVAL (missing field for the op), -ENOMEM
 */
int ctl_request_format(const struct ctl_request *req, char **ret);

/**
 * ctl_request_parse() - Parse one request line (without or with its '\n')
 * @ret:	filled on success only; release with ctl_request_done()
 * @reterr:	on -EINVAL, a malloc'ed message ("unknown op 'x'", "'words' must be an array of strings",
 *		"request contains a NUL byte", "invalid UTF-8 at byte 12 of the request")
 *
 * Return: 0, -EINVAL, -E2BIG (over CTL_LINE_MAX), -ENOMEM
 */
int ctl_request_parse(const char *line, size_t len, struct ctl_request *ret, char **reterr);

/**
 * ctl_request_done() - Free the contents of @r and zero it
 */
void ctl_request_done(struct ctl_request *r);

/**
 * ctl_reply_format() - Serialize @rep as one line, '\n' included; counters are clamped to
 * INT64_MAX. Return: 0, -ENOMEM
 */
int ctl_reply_format(const struct ctl_reply *rep, char **ret);

/**
 * ctl_reply_parse() - Parse one reply line
 * @ret:	filled on success only; release with ctl_reply_done()
 * @reterr:	on -EINVAL, a malloc'ed message
 *
 * Return: 0, -EINVAL, -E2BIG, -ENOMEM
 */
int ctl_reply_parse(const char *line, size_t len, struct ctl_reply *ret, char **reterr);

/**
 * ctl_reply_done() - Free the contents of @r and zero it
 */
void ctl_reply_done(struct ctl_reply *r);

/**
 * ctl_segments_format_json() - The `list --json` document: {"segments":[...]}
 * @pretty:	indent it (counters clamped to INT64_MAX, as in ctl_reply_format())
 * @ret:	malloc'ed, NUL-terminated, '\n' at the end
 *
 * Return: 0, -ENOMEM
 */
int ctl_segments_format_json(const struct ctl_segment_info *s, size_t n, bool pretty, char **ret);

/**
 * ctl_list_format_json() - ctl_segments_format_json() with the links: {"segments":[...],
 * "links":[...]}. Return: 0, -ENOMEM
 */
int ctl_list_format_json(const struct ctl_segment_info *s, size_t n,
			 const struct ctl_link_info *links, size_t n_links, bool pretty,
			 char **ret);

/**
 * ctl_link_info_done() - Free the strings of @l
 */
void ctl_link_info_done(struct ctl_link_info *l);

/**
 * ctl_tunnels_format_json() - The `tunnel-list --json` document: {"tunnels":[...]}
 * Return: 0, -ENOMEM
 */
int ctl_tunnels_format_json(const struct ctl_tunnel *t, size_t n, bool pretty, char **ret);

/**
 * ctl_tunnel_done() - Free the strings of @t, wiping the keys first
 */
void ctl_tunnel_done(struct ctl_tunnel *t);

/**
 * ctl_conn_info_done() - Free the strings of @c
 */
void ctl_conn_info_done(struct ctl_conn_info *c);

/**
 * ctl_segment_info_done() - Free the strings of @s
 */
void ctl_segment_info_done(struct ctl_segment_info *s);
