/* SPDX-License-Identifier: MIT */
/*
 * espinudp.h - the UDP socket that lets the kernel take ESP-in-UDP packets in (RFC 3948)
 *
 * The kernel decapsulates UDP-encapsulated ESP only on a UDP socket bound to the port with the
 * UDP_ENCAP_ESPINUDP option; without it the packets go to an ordinary socket or are dropped. The
 * daemon opens one per udptunnel and holds it for the tunnel's life; sending needs no socket (the
 * SA's encap template has both ports). The port comes from a configured pool.
 */
#pragma once

#include <stdint.h>

/**
 * espinudp_open() - Open an encap socket on a free port of [@port_min, @port_max]
 * @nsfd:	network namespace fd (borrowed), or -1 for our own
 * @ret_port:	the port bound
 *
 * Return: the socket fd (O_CLOEXEC, owned by the caller), -EADDRINUSE when every port of the
 * pool is taken, or a negative errno
 */
int espinudp_open(int nsfd, uint16_t port_min, uint16_t port_max, uint16_t *ret_port);

/**
 * espinudp_open_port() - Open an encap socket on exactly @port (rediscovered tunnels)
 *
 * Return: the socket fd, or a negative errno (-EADDRINUSE)
 */
int espinudp_open_port(int nsfd, uint16_t port);
