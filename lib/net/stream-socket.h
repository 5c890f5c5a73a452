/* SPDX-License-Identifier: MIT */
/*
 * stream-socket.h - a connected socket seen as a struct stream (stream.h)
 *
 * For code that handles streams and may be given a socket: the buffered relay's socket end, and
 * the tests. The socket is registered edge-triggered in the data path's ioloop, and every edge
 * (EPOLLIN, EPOLLOUT, EPOLLRDHUP, HUP, ERR) wakes the stream's consumer; read() and write() are
 * recv()/send() that never block or raise SIGPIPE, shutdown_write() is shutdown(SHUT_WR), and
 * free() takes the socket out of the ioloop and closes it. A consumer must read until -EAGAIN
 * (or stop on purpose and come back by itself) to be woken again: that is edge triggering.
 */
#pragma once

struct ioloop;
struct stream;

/**
 * stream_socket_new() - Wrap connected, non-blocking stream socket @fd in a stream
 * @l:		the ioloop (borrowed, must outlive the stream)
 * @fd:		the socket; ownership passes to the stream on success only. It may come released
 *		from a connector (ioloop_release()); it is then adopted without a syscall
 * @ret:	the stream on success only; free with stream_free(), which closes @fd
 *
 * Return: 0, -EINVAL, -ENOMEM, or a negative errno from epoll_ctl()
 */
int stream_socket_new(struct ioloop *l, int fd, struct stream **ret);
