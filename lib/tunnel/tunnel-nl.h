/* SPDX-License-Identifier: MIT */
/*
 * tunnel-nl.h - the netlink sockets of lib/tunnel, and libnl's error space converted once
 *
 * A struct tunnel_nl holds one NETLINK_XFRM and one NETLINK_ROUTE socket, created inside a
 * chosen network namespace (the sockets keep it for life, so one process can drive the kernels of
 * two namespaces: the VM test does). libnl returns -NLE_* codes and loses the kernel's errno on
 * the way (it maps ENOSYS to -NLE_FAILURE); an error callback keeps the kernel's errno of the last
 * request, and tunnel_nl_err() turns a libnl result into a negative errno: the kernel's own when
 * it sent one, otherwise nle_to_errno(). Nothing else in the tree sees -NLE_*.
 */
#pragma once

struct nl_sock;

struct tunnel_nl {
	struct nl_sock *xfrm;  /* NETLINK_XFRM: SAs, policies */
	struct nl_sock *route; /* NETLINK_ROUTE: addresses, routes, links */
	int kernel_errno;      /* errno of the last NLMSG_ERROR (positive), 0 if none */
};

/**
 * nle_to_errno() - Map a libnl error code to a negative errno
 * @nle:	libnl result: 0, or -NLE_* (a positive NLE_* is treated the same)
 *
 * Return: 0 for 0, else a negative errno (-EIO for codes without a counterpart)
 */
int nle_to_errno(int nle);

/**
 * tunnel_nl_open() - Open the xfrm and route netlink sockets inside a namespace
 * @nsfd:	network namespace fd (borrowed), or -1 for the caller's own
 * @ret:	the new sockets; owned by the caller, free with tunnel_nl_free()
 *
 * Return: 0, -EPERM without CAP_SYS_ADMIN (for @nsfd), -ENOMEM, or another negative errno
 */
int tunnel_nl_open(int nsfd, struct tunnel_nl **ret);

/**
 * tunnel_nl_free() - Close both sockets; NULL is fine
 *
 * Return: NULL
 */
struct tunnel_nl *tunnel_nl_free(struct tunnel_nl *nl);

static inline void tunnel_nl_freep(struct tunnel_nl **p)
{
	if (*p)
		tunnel_nl_free(*p);
}

/**
 * tunnel_nl_err() - Convert the result of a libnl request made on @nl
 * @nl:		the sockets the request went through (borrowed)
 * @nle:	the libnl result
 *
 * Return: 0 for @nle >= 0; the kernel's errno when the kernel answered with one (and clears it),
 * else nle_to_errno(@nle)
 */
int tunnel_nl_err(struct tunnel_nl *nl, int nle);

/**
 * tunnel_nl_begin() - Forget the kernel errno of an earlier request (call before a request)
 */
void tunnel_nl_begin(struct tunnel_nl *nl);
