/* SPDX-License-Identifier: MIT */
/*
 * tunnel-half.c - fresh SAs and the mirror image of a half (see tunnel-half.h)
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "tunnel-half.h"

static int random_bytes(void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = getrandom((char *)buf + done, n - done, 0);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)k;
	}
	return 0;
}

int tunnel_sa_random(struct tunnel_sa *sa)
{
	uint32_t spi;
	int r;

	do {
		r = random_bytes(&spi, sizeof(spi));
		if (r < 0)
			return r;
	} while (spi < 256);
	r = random_bytes(sa->key, sizeof(sa->key));
	if (r < 0)
		return r;
	sa->spi = spi;
	return 0;
}

void tunnel_half_mirror(const struct tunnel_half *h, struct tunnel_half *ret)
{
	*ret = (struct tunnel_half){
		.local = h->remote,
		.remote = h->local,
		.local_ov = h->remote_ov,
		.remote_ov = h->local_ov,
		.reqid = h->reqid,
		.encap = h->encap,
		.local_port = h->remote_port,
		.remote_port = h->local_port,
		.rekey_sec = h->rekey_sec,
		.out = h->in,
		.in = h->out,
	};
}

void tunnel_half_wipe(struct tunnel_half *h)
{
	explicit_bzero(h->out.key, sizeof(h->out.key));
	explicit_bzero(h->in.key, sizeof(h->in.key));
}
