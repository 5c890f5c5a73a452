/* SPDX-License-Identifier: MIT */
/*
 * espinudp.c - UDP_ENCAP_ESPINUDP sockets from a port pool (see espinudp.h)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "espinudp.h"
#include "netns.h"

int espinudp_open_port(int nsfd, uint16_t port)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int encap = UDP_ENCAP_ESPINUDP;

	if (port == 0)
		return -EINVAL;
	fd = netns_socket(nsfd, AF_INET, SOCK_DGRAM, IPPROTO_UDP);
	if (fd < 0)
		return fd;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &encap, sizeof(encap)) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int espinudp_open(int nsfd, uint16_t port_min, uint16_t port_max, uint16_t *ret_port)
{
	if (port_min == 0 || port_min > port_max)
		return -EINVAL;
	for (unsigned p = port_min; p <= port_max; p++) {
		int fd = espinudp_open_port(nsfd, (uint16_t)p);

		if (fd == -EADDRINUSE)
			continue;
		if (fd < 0)
			return fd;
		*ret_port = (uint16_t)p;
		return fd;
	}
	return -EADDRINUSE;
}
