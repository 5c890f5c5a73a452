/* SPDX-License-Identifier: MIT */
/*
 * tunnel-nl.c - netlink sockets in a namespace, and the one place libnl's -NLE_* becomes errno
 *
 * The sockets are created with netns_socket() (enter, socket(), come back) and handed to libnl
 * with nl_socket_set_fd(), so libnl never creates a socket itself. The error callback records the
 * kernel's errno from each NLMSG_ERROR before libnl folds it into an NLE code.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "cleanup.h"
#include "netns.h"
#include "tunnel-nl.h"

int nle_to_errno(int nle)
{
	static const int map[] = {
		[NLE_SUCCESS] = 0,
		[NLE_FAILURE] = EIO,
		[NLE_INTR] = EINTR,
		[NLE_BAD_SOCK] = EBADF,
		[NLE_AGAIN] = EAGAIN,
		[NLE_NOMEM] = ENOMEM,
		[NLE_EXIST] = EEXIST,
		[NLE_INVAL] = EINVAL,
		[NLE_RANGE] = ERANGE,
		[NLE_MSGSIZE] = EMSGSIZE,
		[NLE_OPNOTSUPP] = EOPNOTSUPP,
		[NLE_AF_NOSUPPORT] = EAFNOSUPPORT,
		[NLE_OBJ_NOTFOUND] = ENOENT,
		[NLE_NOATTR] = ENODATA,
		[NLE_MISSING_ATTR] = EINVAL,
		[NLE_AF_MISMATCH] = EAFNOSUPPORT,
		[NLE_SEQ_MISMATCH] = EILSEQ,
		[NLE_MSG_OVERFLOW] = EOVERFLOW,
		[NLE_MSG_TRUNC] = EMSGSIZE,
		[NLE_NOADDR] = EADDRNOTAVAIL,
		[NLE_SRCRT_NOSUPPORT] = EOPNOTSUPP,
		[NLE_MSG_TOOSHORT] = EBADMSG,
		[NLE_MSGTYPE_NOSUPPORT] = EOPNOTSUPP,
		[NLE_OBJ_MISMATCH] = EINVAL,
		[NLE_NOCACHE] = ENOENT,
		[NLE_BUSY] = EBUSY,
		[NLE_PROTO_MISMATCH] = EPROTONOSUPPORT,
		[NLE_NOACCESS] = EACCES,
		[NLE_PERM] = EPERM,
		[NLE_PKTLOC_FILE] = ENOENT,
		[NLE_PARSE_ERR] = EBADMSG,
		[NLE_NODEV] = ENODEV,
		[NLE_IMMUTABLE] = EROFS,
		[NLE_DUMP_INTR] = EINTR,
		[NLE_ATTRSIZE] = ERANGE,
	};
	int n = nle < 0 ? -nle : nle;

	if (n == 0)
		return 0;
	if ((size_t)n >= ELEMENTSOF(map) || map[n] == 0)
		return -EIO;
	return -map[n];
}

static int on_nl_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *userdata)
{
	struct tunnel_nl *nl = userdata;

	nl->kernel_errno = e->error < 0 ? -e->error : e->error;
	return NL_STOP; /* libnl still returns its -NLE_* for this message */
}

static int open_one(int nsfd, int protocol, struct tunnel_nl *nl, struct nl_sock **ret)
{
	struct nl_sock *sk;
	int fd, r;

	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	fd = netns_socket(nsfd, AF_NETLINK, SOCK_RAW, protocol);
	if (fd < 0) {
		nl_socket_free(sk);
		return fd;
	}
	/* bound before libnl sees it: the kernel picks the port id, libnl reads it back */
	if (bind(fd, (const struct sockaddr *)&(struct sockaddr_nl){ .nl_family = AF_NETLINK },
		 sizeof(struct sockaddr_nl)) < 0) {
		r = -errno;
		(void)close(fd);
		nl_socket_free(sk);
		return r;
	}
	r = nl_socket_set_fd(sk, protocol, fd);
	if (r < 0) {
		(void)close(fd);
		nl_socket_free(sk);
		return nle_to_errno(r);
	}
	r = nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, on_nl_error, nl);
	if (r < 0) {
		nl_socket_free(sk); /* closes fd */
		return nle_to_errno(r);
	}
	*ret = sk;
	return 0;
}

int tunnel_nl_open(int nsfd, struct tunnel_nl **ret)
{
	struct tunnel_nl *nl;
	int r;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	r = open_one(nsfd, NETLINK_XFRM, nl, &nl->xfrm);
	if (r >= 0)
		r = open_one(nsfd, NETLINK_ROUTE, nl, &nl->route);
	if (r < 0) {
		tunnel_nl_free(nl);
		return r;
	}
	*ret = nl;
	return 0;
}

struct tunnel_nl *tunnel_nl_free(struct tunnel_nl *nl)
{
	if (!nl)
		return NULL;
	if (nl->xfrm)
		nl_socket_free(nl->xfrm);
	if (nl->route)
		nl_socket_free(nl->route);
	free(nl);
	return NULL;
}

void tunnel_nl_begin(struct tunnel_nl *nl)
{
	nl->kernel_errno = 0;
}

int tunnel_nl_err(struct tunnel_nl *nl, int nle)
{
	int e;

	if (nle >= 0)
		return 0;
	e = nl->kernel_errno;
	nl->kernel_errno = 0;
	if (e > 0)
		return -e;
	return nle_to_errno(nle);
}
