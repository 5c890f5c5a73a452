/* SPDX-License-Identifier: MIT */
/*
 * test-tunnel - lib/tunnel: the netlink messages built for SAs and policies, attribute by
 * attribute; libnl's error codes; overlay CIDRs; mirror halves; and, in a private network
 * namespace on this kernel (xfrm policies, no ESP), installation with rollback when the kernel
 * refuses the SA, and policies installed, found again and removed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/xfrm.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/xfrm/sa.h>
#include <netlink/xfrm/sp.h>

#include "cleanup.h"
#include "overlay.h"
#include "tunnel-half.h"
#include "tunnel-nl.h"
#include "tunnel.h"
#include "xfrm-msg.h"

static struct in_addr a4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static void half_init(struct tunnel_half *h, enum tunnel_encap encap)
{
	*h = (struct tunnel_half){
		.local = a4("198.18.0.1"),
		.remote = a4("198.18.0.2"),
		.local_ov = a4("100.64.1.1"),
		.remote_ov = a4("100.64.2.2"),
		.reqid = TUNNEL_REQID_BASE | 0x1234,
		.encap = encap,
		.local_port = encap == TUNNEL_ENCAP_UDP ? 4501 : 0,
		.remote_port = encap == TUNNEL_ENCAP_UDP ? 4502 : 0,
		.rekey_sec = 600,
		.out.spi = 0x1000a,
		.in.spi = 0x2000b,
	};
	for (unsigned i = 0; i < TUNNEL_KEY_BYTES; i++) {
		h->out.key[i] = (uint8_t)(0x10 + i);
		h->in.key[i] = (uint8_t)(0x80 + i);
	}
}

static void test_nle_to_errno(void **state)
{
	assert_int_equal(nle_to_errno(0), 0);
	assert_int_equal(nle_to_errno(-NLE_EXIST), -EEXIST);
	assert_int_equal(nle_to_errno(NLE_EXIST), -EEXIST);
	assert_int_equal(nle_to_errno(-NLE_OBJ_NOTFOUND), -ENOENT);
	assert_int_equal(nle_to_errno(-NLE_PERM), -EPERM);
	assert_int_equal(nle_to_errno(-NLE_NOMEM), -ENOMEM);
	assert_int_equal(nle_to_errno(-NLE_NOADDR), -EADDRNOTAVAIL);
	assert_int_equal(nle_to_errno(-NLE_FAILURE), -EIO);
	assert_int_equal(nle_to_errno(-9999), -EIO);
}

static void test_cidr(void **state)
{
	struct overlay_cidr c;

	assert_int_equal(overlay_cidr_parse(OVERLAY_CIDR_DEFAULT, &c), 0);
	assert_int_equal(c.prefix, 14);
	assert_true(overlay_cidr_contains(&c, a4("100.67.255.254")));
	assert_false(overlay_cidr_contains(&c, a4("100.68.0.1")));
	assert_int_equal(overlay_cidr_parse("100.65.0.0/14", &c), -EINVAL); /* host bits */
	assert_int_equal(overlay_cidr_parse("10.0.0.0/31", &c), -EINVAL);
	assert_int_equal(overlay_cidr_parse("10.0.0.0/7", &c), -EINVAL);
	assert_int_equal(overlay_cidr_parse("10.0.0.0", &c), -EINVAL);
	assert_int_equal(overlay_cidr_parse("10.0.0.0/1x", &c), -EINVAL);
	assert_int_equal(overlay_cidr_parse("fd57::/64", &c), -EINVAL);
}

static void test_sa_random_and_mirror(void **state)
{
	struct tunnel_sa s1, s2;
	struct tunnel_half h, m;

	assert_int_equal(tunnel_sa_random(&s1), 0);
	assert_int_equal(tunnel_sa_random(&s2), 0);
	assert_true(s1.spi >= 256 && s2.spi >= 256);
	assert_true(s1.spi != s2.spi || memcmp(s1.key, s2.key, sizeof(s1.key)) != 0);
	assert_memory_not_equal(s1.key, s2.key, sizeof(s1.key));

	half_init(&h, TUNNEL_ENCAP_UDP);
	tunnel_half_mirror(&h, &m);
	assert_int_equal(m.local.s_addr, h.remote.s_addr);
	assert_int_equal(m.remote_ov.s_addr, h.local_ov.s_addr);
	assert_int_equal(m.local_port, h.remote_port);
	assert_int_equal(m.out.spi, h.in.spi);
	assert_memory_equal(m.in.key, h.out.key, TUNNEL_KEY_BYTES);
	assert_int_equal(m.reqid, h.reqid);
}

/* the NEWSA message of one direction, with its attributes */
static struct nl_msg *sa_msg(const struct tunnel_half *h, enum tunnel_dir dir,
			     struct xfrm_usersa_info **ret_info)
{
	struct xfrmnl_sa *sa = NULL;
	struct nl_msg *msg = NULL;

	assert_int_equal(xfrm_msg_sa(h, dir, dir == TUNNEL_DIR_OUT ? &h->out : &h->in, &sa), 0);
	assert_int_equal(xfrmnl_sa_build_add_request(sa, NLM_F_CREATE | NLM_F_EXCL, &msg), 0);
	xfrmnl_sa_put(sa);
	assert_int_equal(nlmsg_hdr(msg)->nlmsg_type, XFRM_MSG_NEWSA);
	*ret_info = nlmsg_data(nlmsg_hdr(msg));
	return msg;
}

static void test_sa_message(void **state)
{
	struct tunnel_half h;
	struct xfrm_usersa_info *i;
	struct xfrm_algo_aead *aead;
	struct nlattr *at;
	struct nl_msg *msg;

	half_init(&h, TUNNEL_ENCAP_NONE);
	msg = sa_msg(&h, TUNNEL_DIR_OUT, &i);
	assert_int_equal(i->family, AF_INET);
	assert_int_equal(i->saddr.a4, h.local.s_addr);
	assert_int_equal(i->id.daddr.a4, h.remote.s_addr);
	assert_int_equal(i->id.spi, htonl(0x1000a));
	assert_int_equal(i->id.proto, IPPROTO_ESP);
	assert_int_equal(i->mode, XFRM_MODE_TUNNEL);
	assert_int_equal(i->reqid, TUNNEL_REQID_BASE | 0x1234);
	assert_int_equal(i->replay_window, 32);
	/* no zero limit (that would expire the SA at once), no hard time limit */
	assert_true(i->lft.soft_byte_limit == XFRM_INF && i->lft.hard_byte_limit == XFRM_INF);
	assert_true(i->lft.soft_packet_limit == TUNNEL_SOFT_PACKETS);
	assert_true(i->lft.hard_packet_limit == TUNNEL_HARD_PACKETS);
	assert_true(i->lft.hard_packet_limit < 0x100000000ull);
	assert_true(i->lft.soft_add_expires_seconds == 600);
	assert_true(i->lft.hard_add_expires_seconds == 0);

	at = nlmsg_find_attr(nlmsg_hdr(msg), sizeof(*i), XFRMA_ALG_AEAD);
	assert_non_null(at);
	assert_true(nla_len(at) >= (int)(sizeof(*aead) + TUNNEL_KEY_BYTES));
	aead = nla_data(at);
	assert_string_equal(aead->alg_name, "rfc4106(gcm(aes))");
	assert_int_equal(aead->alg_key_len, 160);
	assert_int_equal(aead->alg_icv_len, 128);
	assert_memory_equal(aead->alg_key, h.out.key, TUNNEL_KEY_BYTES);
	assert_null(nlmsg_find_attr(nlmsg_hdr(msg), sizeof(*i), XFRMA_ENCAP));
	assert_null(nlmsg_find_attr(nlmsg_hdr(msg), sizeof(*i), XFRMA_ALG_CRYPT));
	assert_null(nlmsg_find_attr(nlmsg_hdr(msg), sizeof(*i), XFRMA_ALG_AUTH_TRUNC));
	nlmsg_free(msg);

	/* inbound: the other SPI, the other key, the addresses the other way round */
	msg = sa_msg(&h, TUNNEL_DIR_IN, &i);
	assert_int_equal(i->saddr.a4, h.remote.s_addr);
	assert_int_equal(i->id.daddr.a4, h.local.s_addr);
	assert_int_equal(i->id.spi, htonl(0x2000b));
	aead = nla_data(nlmsg_find_attr(nlmsg_hdr(msg), sizeof(*i), XFRMA_ALG_AEAD));
	assert_memory_equal(aead->alg_key, h.in.key, TUNNEL_KEY_BYTES);
	nlmsg_free(msg);
}

static void test_sa_message_encap(void **state)
{
	struct tunnel_half h;
	struct xfrm_usersa_info *i;
	struct xfrm_encap_tmpl *e;
	struct nlattr *at;
	struct nl_msg *msg;

	half_init(&h, TUNNEL_ENCAP_UDP);
	msg = sa_msg(&h, TUNNEL_DIR_OUT, &i);
	at = nlmsg_find_attr(nlmsg_hdr(msg), sizeof(*i), XFRMA_ENCAP);
	assert_non_null(at);
	e = nla_data(at);
	assert_int_equal(e->encap_type, UDP_ENCAP_ESPINUDP);
	assert_int_equal(e->encap_sport, htons(4501));
	assert_int_equal(e->encap_dport, htons(4502));
	nlmsg_free(msg);
	msg = sa_msg(&h, TUNNEL_DIR_IN, &i);
	e = nla_data(nlmsg_find_attr(nlmsg_hdr(msg), sizeof(*i), XFRMA_ENCAP));
	assert_int_equal(e->encap_sport, htons(4502));
	assert_int_equal(e->encap_dport, htons(4501));
	nlmsg_free(msg);
}

static void test_sa_message_rejects(void **state)
{
	struct tunnel_half h;
	struct xfrmnl_sa *sa = NULL;
	struct tunnel_sa bad = { .spi = 255 };

	half_init(&h, TUNNEL_ENCAP_NONE);
	assert_int_equal(xfrm_msg_sa(&h, TUNNEL_DIR_OUT, &bad, &sa), -EINVAL);
	h.reqid = 0x1234; /* not one of ours */
	assert_int_equal(xfrm_msg_sa(&h, TUNNEL_DIR_OUT, &h.out, &sa), -EINVAL);
	half_init(&h, TUNNEL_ENCAP_UDP);
	h.remote_port = 0;
	assert_int_equal(xfrm_msg_sa(&h, TUNNEL_DIR_OUT, &h.out, &sa), -EINVAL);
	assert_null(sa);
}

static void test_sp_message(void **state)
{
	static const struct {
		enum tunnel_dir dir;
		int xdir;
	} cases[] = { { TUNNEL_DIR_OUT, XFRM_POLICY_OUT }, { TUNNEL_DIR_IN, XFRM_POLICY_IN } };

	for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
		bool out = cases[k].dir == TUNNEL_DIR_OUT;
		struct tunnel_half h;
		struct xfrmnl_sp *sp = NULL;
		struct nl_msg *msg = NULL;
		struct xfrm_userpolicy_info *p;
		struct xfrm_user_tmpl *t;
		struct nlattr *at;

		half_init(&h, TUNNEL_ENCAP_NONE);
		assert_int_equal(xfrm_msg_sp(&h, cases[k].dir, &sp), 0);
		assert_int_equal(xfrmnl_sp_build_add_request(sp, NLM_F_CREATE, &msg), 0);
		xfrmnl_sp_put(sp);
		assert_int_equal(nlmsg_hdr(msg)->nlmsg_type, XFRM_MSG_NEWPOLICY);
		p = nlmsg_data(nlmsg_hdr(msg));
		assert_int_equal(p->dir, cases[k].xdir);
		assert_int_equal(p->action, XFRM_POLICY_ALLOW);
		assert_int_equal(p->sel.family, AF_INET);
		assert_int_equal(p->sel.prefixlen_s, 32);
		assert_int_equal(p->sel.prefixlen_d, 32);
		assert_int_equal(p->sel.saddr.a4, out ? h.local_ov.s_addr : h.remote_ov.s_addr);
		assert_int_equal(p->sel.daddr.a4, out ? h.remote_ov.s_addr : h.local_ov.s_addr);
		assert_true(p->lft.hard_byte_limit == XFRM_INF);
		at = nlmsg_find_attr(nlmsg_hdr(msg), sizeof(*p), XFRMA_TMPL);
		assert_non_null(at);
		assert_int_equal(nla_len(at), sizeof(*t)); /* exactly one template */
		t = nla_data(at);
		assert_int_equal(t->family, AF_INET);
		assert_int_equal(t->id.proto, IPPROTO_ESP);
		assert_int_equal(t->mode, XFRM_MODE_TUNNEL);
		assert_int_equal(t->reqid, h.reqid);
		assert_int_equal(t->saddr.a4, out ? h.local.s_addr : h.remote.s_addr);
		assert_int_equal(t->id.daddr.a4, out ? h.remote.s_addr : h.local.s_addr);
		assert_int_equal(t->optional, 0);
		nlmsg_free(msg);
	}
}

static bool in_netns;

static int count_ours(struct tunnel_nl *nl, struct tunnel_found *ret_first)
{
	struct tunnel_found *v = NULL;
	size_t n = 0;

	assert_int_equal(tunnel_discover(nl, &v, &n), 0);
	if (n > 0 && ret_first)
		*ret_first = v[0];
	free(v);
	return (int)n;
}

/* On this kernel (no ESP) the SA is refused: the install stops there and leaves nothing.
 * On a kernel with ESP it completes, is found complete, and is removed. */
static void test_install_rollback(void **state)
{
	_cleanup_(tunnel_nl_freep) struct tunnel_nl *nl = NULL;
	struct tunnel_found f;
	struct tunnel_half h;
	const char *step = NULL;
	int r;

	if (!in_netns)
		skip();
	half_init(&h, TUNNEL_ENCAP_NONE);
	assert_int_equal(tunnel_nl_open(-1, &nl), 0);
	assert_int_equal(overlay_addr_add(nl, h.local), 0); /* the "underlay" address */
	assert_int_equal(overlay_addr_add(nl, h.local), -EEXIST);

	r = tunnel_install(nl, &h, &step);
	if (r < 0) {
		assert_string_equal(step, "inbound SA");
		assert_true(r == -ENOSYS || r == -EINVAL || r == -ENOENT);
		assert_int_equal(overlay_has_addr(nl, h.local_ov, 0), 0);
		assert_int_equal(count_ours(nl, NULL), 0);
	} else {
		assert_int_equal(count_ours(nl, &f), 1);
		assert_int_equal(f.has, TUNNEL_HAS_ALL);
		assert_memory_equal(f.h.out.key, h.out.key, TUNNEL_KEY_BYTES);
		assert_int_equal(tunnel_install(nl, &h, &step), -EEXIST);
		assert_int_equal(count_ours(nl, &f),
				 1); /* the failed second try undid only itself */
		assert_int_equal(tunnel_remove(nl, &h), 0);
		assert_int_equal(count_ours(nl, NULL), 0);
	}
	assert_int_equal(overlay_addr_del(nl, h.local), 0);
}

/* the policies of a half, as the kernel holds them: found again, then removed with the rest */
static void test_policies_installed(void **state)
{
	_cleanup_(tunnel_nl_freep) struct tunnel_nl *nl = NULL;
	struct tunnel_found f;
	struct tunnel_half h;
	uint32_t reqid;

	if (!in_netns)
		skip();
	half_init(&h, TUNNEL_ENCAP_NONE);
	assert_int_equal(tunnel_nl_open(-1, &nl), 0);
	for (enum tunnel_dir d = TUNNEL_DIR_OUT; d <= TUNNEL_DIR_IN; d++) {
		struct xfrmnl_sp *sp = NULL;
		int r;

		assert_int_equal(xfrm_msg_sp(&h, d, &sp), 0);
		tunnel_nl_begin(nl);
		r = tunnel_nl_err(nl, xfrmnl_sp_add(nl->xfrm, sp, NLM_F_CREATE | NLM_F_EXCL));
		assert_int_equal(r, 0);
		tunnel_nl_begin(nl);
		r = tunnel_nl_err(nl, xfrmnl_sp_add(nl->xfrm, sp, NLM_F_CREATE | NLM_F_EXCL));
		assert_int_equal(r, -EEXIST); /* the kernel's errno, through the error callback */
		xfrmnl_sp_put(sp);
	}
	assert_int_equal(overlay_addr_add(nl, h.local_ov), 0);

	assert_int_equal(count_ours(nl, &f), 1);
	assert_int_equal(f.h.reqid, h.reqid);
	assert_int_equal(f.has, TUNNEL_HAS_SP_OUT | TUNNEL_HAS_SP_IN | TUNNEL_HAS_ADDR);
	assert_int_equal(f.h.local.s_addr, h.local.s_addr);
	assert_int_equal(f.h.remote.s_addr, h.remote.s_addr);
	assert_int_equal(f.h.local_ov.s_addr, h.local_ov.s_addr);
	assert_int_equal(f.h.remote_ov.s_addr, h.remote_ov.s_addr);
	assert_int_equal(tunnel_reqid_in_use(nl, h.reqid), 1);
	assert_int_equal(tunnel_reqid_pick(nl, &reqid), 0);
	assert_int_not_equal(reqid, h.reqid);
	assert_int_equal(reqid & TUNNEL_REQID_MASK, TUNNEL_REQID_BASE);
	assert_int_equal(overlay_check(nl, h.local_ov, h.remote_ov), -EADDRINUSE);

	/* a partial tunnel (policies and address, no SA) is removed completely */
	assert_int_equal(tunnel_remove(nl, &f.h), 0);
	assert_int_equal(count_ours(nl, NULL), 0);
	assert_int_equal(tunnel_reqid_in_use(nl, h.reqid), 0);
	assert_int_equal(overlay_has_addr(nl, h.local_ov, 0), 0);
	assert_int_equal(tunnel_remove(nl, &f.h), 0); /* removing again: nothing there, no error */
}

static void test_overlay_pick(void **state)
{
	_cleanup_(tunnel_nl_freep) struct tunnel_nl *nl = NULL;
	struct overlay_cidr c;
	struct in_addr l, r, avoid[2];

	if (!in_netns)
		skip();
	assert_int_equal(tunnel_nl_open(-1, &nl), 0);
	assert_int_equal(overlay_cidr_parse("100.64.0.0/30", &c), 0); /* hosts .1 and .2 only */
	assert_int_equal(overlay_pick(nl, &c, NULL, 0, &l, &r), 0);
	assert_true(overlay_cidr_contains(&c, l) && overlay_cidr_contains(&c, r));
	assert_int_not_equal(l.s_addr, r.s_addr);
	assert_true(l.s_addr != a4("100.64.0.0").s_addr && l.s_addr != a4("100.64.0.3").s_addr);
	avoid[0] = a4("100.64.0.1");
	assert_int_equal(overlay_pick(nl, &c, avoid, 1, &l, &r), -EADDRNOTAVAIL);
	assert_int_equal(overlay_addr_add(nl, a4("100.64.0.2")), 0);
	assert_int_equal(overlay_pick(nl, &c, NULL, 0, &l, &r), -EADDRNOTAVAIL);
	avoid[1] = a4("100.64.0.2");
	assert_int_equal(overlay_addr_del(nl, avoid[1]), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nle_to_errno),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_sa_random_and_mirror),
		cmocka_unit_test(test_sa_message),
		cmocka_unit_test(test_sa_message_encap),
		cmocka_unit_test(test_sa_message_rejects),
		cmocka_unit_test(test_sp_message),
		cmocka_unit_test(test_install_rollback),
		cmocka_unit_test(test_policies_installed),
		cmocka_unit_test(test_overlay_pick),
	};

	/* a private network namespace: the kernel's xfrm tables of this test alone; lo up, as the
	 * overlay route of a half installed on it needs a running device */
	if (unshare(CLONE_NEWNET) == 0) {
		struct ifreq ifr = { .ifr_name = "lo", .ifr_flags = IFF_UP | IFF_LOOPBACK };
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		in_netns = fd >= 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
		if (fd >= 0)
			close(fd);
	}
	if (!in_netns)
		fprintf(stderr, "SKIP (netns parts): no private network namespace: %s\n",
			strerror(errno));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
