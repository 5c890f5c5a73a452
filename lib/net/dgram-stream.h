/* SPDX-License-Identifier: MIT */
/*
 * dgram-stream.h - a connected datagram socket seen as a byte stream of length-prefixed frames
 *
 * UDP over `remote` carries each datagram on a peer stream as a frame: two bytes of length (big
 * endian, 0..65535, which holds any UDP payload), then the datagram. A dgram stream is the
 * struct stream (stream.h) on the datagram side: read() yields one frame per datagram received,
 * write() takes frames, in pieces of any size, and sends each datagram once it is whole. So the
 * buffered relay (stream-relay.h) carries a UDP session over a peer stream like a connection.
 *
 * UDP has no back-pressure: a datagram the socket cannot take now (EAGAIN, ENOBUFS) or that
 * the target refused (ECONNREFUSED from an earlier ICMP error) is dropped, as a router would;
 * write() never returns -EAGAIN. A socketpair whose other end is closed (ENOTCONN) ends the
 * stream. A session ends after @idle_usec without a datagram either way:
 * read() returns 0 (EOF) from then on, which the relay passes on to the other side, and so does
 * shutdown_write() (a datagram session has no half-close).
 */
#pragma once

#include <stdint.h>

struct ioloop;
struct stream;

#define DGRAM_FRAME_HDR 2u
#define DGRAM_MAX	65535u

/**
 * dgram_stream_new() - Wrap a connected, non-blocking datagram socket
 * @l:		the data path's ioloop (borrowed; outlives the stream)
 * @fd:		a connected UDP socket, or one end of an AF_UNIX SOCK_DGRAM socketpair; ownership
 *		passes on success only
 * @idle_usec:	the session's idle timeout (0: none)
 * @ret:	the stream on success only (stream_free() closes @fd)
 *
 * Return: 0, -EINVAL, -ENOMEM, or a negative errno from epoll_ctl() or sd-event
 */
int dgram_stream_new(struct ioloop *l, int fd, uint64_t idle_usec, struct stream **ret);
