/* SPDX-License-Identifier: MIT */
/*
 * docker-internal.h - what the Docker client's files share, and nobody else sees
 *
 * docker.c holds the client, the op base and the request plumbing; docker-json.c the yajl side
 * (answers parsed, request bodies and filters generated); docker-inspect.c the one-request ops
 * (inspect, remove, list); docker-create.c create + pull + start; docker-events.c the event
 * stream. Every op kind is a struct that embeds struct docker_op first and describes itself with
 * a struct docker_op_kind: its size and the hooks the base calls for what only that kind has
 * (freeing its state, stopping its sources, going on after a cancel, the end of the response
 * headers). An op runs one HTTP request at a time: docker_op_request() sends it (after the API
 * version is negotiated) and the op's step function gets the status and body.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <systemd/sd-event.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "docker.h"
#include "list.h"

#define DOCKER_BODY_MAX	    (8u << 20)
#define DOCKER_LINE_MAX	    (1u << 20)
#define DOCKER_TIMEOUT_USEC (30ull * 1000000)

struct curl_event;

struct docker {
	unsigned n_ref;
	sd_event *event;
	struct curl_event *ce;
	char *socket_path;
	char api_version[16]; /* "" until negotiated */
	struct docker_op *ops;
	struct docker_op *negotiator;
	uint64_t timeout_usec;
};

/* A request's result: @r < 0 for a transport failure (@error says which), else @status, @body */
typedef void (*docker_step_fn)(struct docker_op *op, int r, const char *error, long status,
			       char *body);
/* One line of a streamed 200 answer (NUL-terminated, writable); < 0 aborts the transfer */
typedef int (*docker_line_fn)(struct docker_op *op, char *line);

struct docker_op_kind {
	size_t size;				   /* of the struct embedding struct docker_op */
	void (*free)(struct docker_op *op);	   /* frees the kind's state; may be NULL */
	void (*detach)(struct docker_op *op);	   /* stops the kind's sources; may be NULL */
	bool (*cancel)(struct docker_op *op);	   /* true: the op goes on, silently; may be NULL */
	bool (*headers_end)(struct docker_op *op); /* headers are in; false aborts; may be NULL */
};

struct docker_op {
	const struct docker_op_kind *kind;
	struct docker *d;
	LIST_FIELDS(struct docker_op, ops); /* in d->ops while active */
	unsigned n_ref;
	bool active;	/* in d->ops; the user callback has not run */
	bool cancelled; /* no user callbacks any more */
	void *userdata;
	union {
		docker_ping_fn ping;
		docker_info_fn info;
		docker_done_fn done;
		docker_ids_fn ids;
		docker_event_fn event;
	} cb;

	/* the current request */
	CURL *easy;
	struct curl_slist *headers;
	docker_step_fn step;
	docker_line_fn on_line; /* streamed 200 responses go line by line here */
	char *rq_method, *rq_path, *rq_body;
	bool rq_stream; /* no total timeout */
	bool rq_pull;	/* an image pull: 20 times the timeout */
	bool waiting;	/* for the API version */
	bool too_big;	/* response over DOCKER_BODY_MAX / a line over DOCKER_LINE_MAX */
	char *buf;
	size_t len, cap;
	char api_version[16];
	sd_event_source
		*defer; /* delivers queued lines' results from the loop; kinds that stream */
};

/* ---- docker.c: client and op base -------------------------------------------------------- */

/* Drops a reference on @d; the last one frees it. */
void docker_unref(struct docker *d);

/**
 * docker_op_new() - An active op of @kind on @d's list, holding a reference on @d
 * Return: the op (kind->size bytes, zeroed past the base), NULL without memory
 */
struct docker_op *docker_op_new(struct docker *d, const struct docker_op_kind *kind,
				void *userdata);

void docker_op_unref(struct docker_op *op);

/* Takes @op off the active list and drops that reference; @op may be freed. */
void docker_op_detach(struct docker_op *op);

/* The final callbacks: each runs the user's callback at most once, then detaches the op. */
void docker_op_finish_done(struct docker_op *op, int r, const char *error);
void docker_op_finish_info(struct docker_op *op, int r, const char *error,
			   const struct docker_container_info *info);

/*
 * Starts a request on @op; @step gets the result. Paths are unversioned: the version is added
 * once it is known. On an immediate failure @step runs with the error before this returns.
 */
void docker_op_request(struct docker_op *op, const char *method, const char *path, const char *body,
		       docker_step_fn step);

/* ---- docker-json.c ---------------------------------------------------------------------- */

#define GEN_OK(x) ((x) == yajl_gen_status_ok)

/* curl's URL escaping, as a malloc'ed string; NULL without memory */
char *docker_url_escape(const char *s);
/* "/containers/REF" + @what ("/json", "?force=1&v=1"), REF escaped; NULL without memory */
char *docker_container_path(const char *ref, const char *what);
#define DOCKER_REMOVE_QUERY "?force=1&v=1" /* the container's anonymous volumes go too */

yajl_val docker_json_get(yajl_val v, const char *k1, const char *k2, yajl_type t);
/* v[k1][k2] (k2 may be NULL) if it is a string, else NULL */
const char *docker_json_str(yajl_val v, const char *k1, const char *k2);
/* v[k1][k2] if it is an integer, else 0 */
long long docker_json_int(yajl_val v, const char *k1, const char *k2);

bool docker_gen_str(yajl_gen g, const char *s);

/**
 * docker_http_error() - Docker's error for an HTTP answer that is not a success
 * @ret_msg:	set to Docker's {"message":...} verbatim, else "Docker answered HTTP <status>";
 *		NULL without memory
 *
 * Return: -EINVAL (400), -EACCES (401, 403), -ENOENT (404), -EEXIST (409), -EALREADY (304),
 *	   -EIO otherwise
 */
int docker_http_error(long status, const char *body, char **ret_msg);

/* Parses an inspect answer: 0, -EBADMSG (no Id), -ENOMEM; release with docker_info_done() */
int docker_info_parse(const char *body, struct docker_container_info *ret);
void docker_info_done(struct docker_container_info *i);

/* One line of the event stream, parsed (docker-json.c; pure, fuzzed by tests/fuzz/fuzz-docker) */
struct docker_event_line {
	char *action, *id, *name; /* name: NULL when absent */
	int exit_code;		  /* of a die event; 0 when absent or not a number */
	int64_t time_nano;	  /* 0 when absent */
};

/* Return: 1 a container event (*ret filled; release with docker_event_line_done()), 0 not JSON
 * or not a container event, -ENOMEM */
int docker_event_line_parse(const char *line, struct docker_event_line *ret);
void docker_event_line_done(struct docker_event_line *e);

/* {"KEY":["VALUE"]} URL-escaped; NULL without memory */
char *docker_filter_one(const char *key, const char *value);
