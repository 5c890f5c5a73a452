/* SPDX-License-Identifier: MIT */
/*
 * docker.h - asynchronous Docker Engine API client on the caller's sd-event loop
 *
 * Talks HTTP/1.1 to dockerd's unix socket (DOCKER_HOST=unix://PATH, else /var/run/docker.sock)
 * through libcurl's multi interface (curl-event.h), so nothing ever blocks the loop. The API
 * version is negotiated once from /_ping's Api-Version header, capped at 1.41 (what we were
 * verified against), and every path is prefixed with /v<version>; requests made before the answer
 * wait for it. Every request has a timeout (docker_set_timeout()), so a hung dockerd fails
 * requests instead of hanging anything. Errors are a negative errno plus a message: Docker's own
 * {"message":...} verbatim when dockerd answered, else what went wrong on the way ("cannot connect
 * to the Docker daemon at '/run/docker.sock': ..."). HTTP 404 is -ENOENT, 409 -EEXIST, 400
 * -EINVAL, 5xx -EIO.
 *
 * Every call that takes a callback returns (optionally, through @ret_op) a struct docker_op: the
 * callback runs exactly once unless the operation is cancelled with docker_op_cancel() first;
 * the op is gone once its final callback returns. Callbacks never run from inside the call that
 * starts the operation, and they may start or cancel other operations or call docker_free().
 * Data handed to callbacks is borrowed for the duration of the call.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

struct docker;
struct docker_op;
struct docker_run_args;

/* What inspect and create report about a container. */
struct docker_container_info {
	char *id;     /* full 64-hex id */
	char *name;   /* without Docker's leading '/' */
	pid_t pid;    /* State.Pid: 0 unless running */
	bool running; /* State.Running */
	int exit_code;
	char **labels; /* Config.Labels as "key=value", NULL-terminated, never NULL */
};

/* One event from the events stream. */
struct docker_event {
	const char *action; /* "start", "die", "destroy", ...; "reconnect" after the stream broke
			       and came back (events may have been lost: re-inspect) */
	const char *id;	    /* container id; NULL for "reconnect" */
	const char *name;   /* container name (Actor.Attributes.name), may be NULL */
	pid_t pid;	    /* for "start": State.Pid looked up right after the event (0 if the
			       container was already gone); 0 otherwise */
	int exit_code;	    /* for "die": the exit code, else 0 */
	int64_t time_nano;  /* dockerd's timeNano */
};

struct docker_events_filter {
	const char *label;	    /* "key" or "key=value", or NULL */
	const char *container;	    /* id or name, or NULL */
	const char *const *actions; /* NULL-terminated; NULL means start, die, destroy */
};

typedef void (*docker_done_fn)(struct docker *d, int r, const char *error, void *userdata);
typedef void (*docker_ping_fn)(struct docker *d, int r, const char *error, const char *api_version,
			       void *userdata);
typedef void (*docker_info_fn)(struct docker *d, int r, const char *error,
			       const struct docker_container_info *info, void *userdata);
typedef void (*docker_ids_fn)(struct docker *d, int r, const char *error, char *const *ids,
			      void *userdata);
typedef void (*docker_progress_fn)(struct docker *d, const char *text, void *userdata);
typedef void (*docker_event_fn)(struct docker *d, const struct docker_event *ev, void *userdata);

/**
 * docker_new() - Make a client
 * @e:		the loop every request runs on (a reference is taken)
 * @host:	"unix:///path" or a plain socket path; NULL means $DOCKER_HOST, else
 *		/var/run/docker.sock. Other schemes (tcp://, ssh://) are -EPROTONOSUPPORT.
 * @ret:	set on success; release with docker_free()
 *
 * Nothing is contacted yet.
 *
 * Return: 0, -EPROTONOSUPPORT, -ENAMETOOLONG, -ENOMEM
 */
int docker_new(sd_event *e, const char *host, struct docker **ret);

/**
 * docker_free() - Cancel every operation (no callbacks; containers a create had already made
 * are removed only if the loop keeps running) and free; NULL is fine
 *
 * Return: NULL
 */
struct docker *docker_free(struct docker *d);

/**
 * docker_pending() - Return: how many operations are still running, including cancelled
 * creates that are removing their container. A daemon that exits runs its loop until this is 0
 * (bounded) after cancelling, so no container it started is left behind.
 */
unsigned docker_pending(const struct docker *d);

/**
 * docker_set_timeout() - Per-request timeout for later requests (default 30 s; pulls get 20
 * times as long, the events stream has none)
 */
void docker_set_timeout(struct docker *d, uint64_t usec);

/**
 * docker_socket_path() - Return: the socket path in use (borrowed)
 */
const char *docker_socket_path(const struct docker *d);

/**
 * docker_op_cancel() - Cancel an operation: its callbacks will not run; an in-flight request
 * is aborted. A container a create has already made is still removed, in the background.
 * @op:		the op (from a ret_op), not yet completed; NULL is fine
 */
void docker_op_cancel(struct docker_op *op);

/**
 * docker_ping() - Check that dockerd answers, and negotiate the API version
 * @cb:		gets the version in use ("1.41") on success
 *
 * Return: 0 (the result comes through @cb), -ENOMEM
 */
int docker_ping(struct docker *d, docker_ping_fn cb, void *userdata, struct docker_op **ret_op);

/**
 * docker_inspect() - Look a container up
 * @ref:	name, full id, or unique id prefix (borrowed; copied)
 * @cb:		gets the info; -ENOENT with Docker's "No such container: x"; -EINVAL with
 *		"ambiguous container prefix 'ab': matches abc123456789 (web), abd456789012 (db)"
 *
 * Return: 0 (the result comes through @cb), -EINVAL for an empty @ref, -ENOMEM
 */
int docker_inspect(struct docker *d, const char *ref, docker_info_fn cb, void *userdata,
		   struct docker_op **ret_op);

/**
 * docker_create_and_start() - Run a container as `docker run -d` would
 * @args:	what to run (borrowed; copied into the request before this returns)
 * @labels:	extra "key=value" labels added to @args' (e.g. "wormhole.segment=web"), NULL-
 *		terminated, or NULL
 * @progress:	short lines while an image is pulled ("Pulling fs layer 4f4fb700ef54"), or NULL
 * @cb:		gets the info of the running container (pid > 0)
 *
 * Creates the container; if the image is missing, pulls it (POST /images/create) and creates
 * again; starts it; inspects it for its pid. Any failure after the create (start fails, the
 * container exits at once, inspect fails) removes the container (force, with its anonymous
 * volumes) before @cb gets the error, so nothing is left behind. A container that is no longer
 * running after start is -ESRCH ("container 'x' exited right after start (exit code 127)").
 *
 * Return: 0 (the result comes through @cb), -EINVAL (no image), -ENOMEM
 */
int docker_create_and_start(struct docker *d, const struct docker_run_args *args,
			    const char *const *labels, docker_progress_fn progress,
			    docker_info_fn cb, void *userdata, struct docker_op **ret_op);

/**
 * docker_remove() - Remove a container, running or not, with its anonymous volumes
 * @id:		id or name (copied)
 * @cb:		gets 0 also when the container was already gone; may be NULL
 *
 * Return: 0 (the result comes through @cb), -EINVAL, -ENOMEM
 */
int docker_remove(struct docker *d, const char *id, docker_done_fn cb, void *userdata,
		  struct docker_op **ret_op);

/**
 * docker_stop() - Stop a container (SIGTERM, SIGKILL after @timeout_sec), keeping it
 * @id:		id or name (copied)
 * @cb:		gets 0 also when it was not running or is gone; may be NULL
 *
 * Return: 0 (the result comes through @cb), -EINVAL, -ENOMEM
 */
int docker_stop(struct docker *d, const char *id, unsigned timeout_sec, docker_done_fn cb,
		void *userdata, struct docker_op **ret_op);

/**
 * docker_start() - Start an existing (stopped) container again and inspect it
 * @id:		id or name (copied)
 * @cb:		gets the info of the running container (pid > 0); -ESRCH if it exited at once,
 *		-ENOENT if it is gone
 *
 * Return: 0 (the result comes through @cb), -EINVAL, -ENOMEM
 */
int docker_start(struct docker *d, const char *id, docker_info_fn cb, void *userdata,
		 struct docker_op **ret_op);

/**
 * docker_list_by_label() - Ids of all containers (any state) carrying a label
 * @label:	"key" (any value) or "key=value" (copied)
 * @cb:		gets a NULL-terminated array of full ids (empty when none)
 *
 * Return: 0 (the result comes through @cb), -EINVAL, -ENOMEM
 */
int docker_list_by_label(struct docker *d, const char *label, docker_ids_fn cb, void *userdata,
			 struct docker_op **ret_op);

/**
 * docker_events() - Follow container events until cancelled
 * @filter:	which events (copied); NULL means all containers, start/die/destroy
 * @cb:		called per event, in dockerd's order; never with an error
 * @ret_op:	required: the stream runs until docker_op_cancel(*ret_op) or docker_free()
 *
 * When the stream breaks (dockerd restarts) it reconnects with backoff (0.1 s .. 5 s) and
 * since= the last event seen, so events dockerd still remembers are not lost; after each
 * reconnect @cb gets a "reconnect" event.
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int docker_events(struct docker *d, const struct docker_events_filter *filter, docker_event_fn cb,
		  void *userdata, struct docker_op **ret_op);
