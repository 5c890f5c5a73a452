/* SPDX-License-Identifier: MIT */
/*
 * xfrm-msg.c - SAs and policies of a tunnel half as libnl objects (see xfrm-msg.h)
 *
 * libnl's xfrm objects are reference counted; each builder holds its parts in _cleanup_
 * variables and hands the finished object over with TAKE_PTR(). Key lengths are in bits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <netlink/addr.h>
#include <netlink/xfrm/lifetime.h>
#include <netlink/xfrm/sa.h>
#include <netlink/xfrm/selector.h>
#include <netlink/xfrm/sp.h>
#include <netlink/xfrm/template.h>

#include "cleanup.h"
#include "tunnel-half.h"
#include "tunnel-nl.h"
#include "xfrm-msg.h"

#define XFRM_INF_LIMIT (~0ull)
#define REPLAY_WINDOW  32

DEFINE_POINTER_CLEANUP(struct nl_addr *, nl_addr_put)
DEFINE_POINTER_CLEANUP(struct xfrmnl_sa *, xfrmnl_sa_put)
DEFINE_POINTER_CLEANUP(struct xfrmnl_sp *, xfrmnl_sp_put)
DEFINE_POINTER_CLEANUP(struct xfrmnl_sel *, xfrmnl_sel_put)
DEFINE_POINTER_CLEANUP(struct xfrmnl_ltime_cfg *, xfrmnl_ltime_cfg_put)
DEFINE_POINTER_CLEANUP(struct xfrmnl_user_tmpl *, xfrmnl_user_tmpl_free)

static struct nl_addr *addr4(struct in_addr a)
{
	return nl_addr_build(AF_INET, &a, sizeof(a));
}

static int lifetime(unsigned rekey_sec, bool sa, struct xfrmnl_ltime_cfg **ret)
{
	struct xfrmnl_ltime_cfg *l = xfrmnl_ltime_cfg_alloc();

	if (!l)
		return -ENOMEM;
	(void)xfrmnl_ltime_cfg_set_soft_bytelimit(l, XFRM_INF_LIMIT);
	(void)xfrmnl_ltime_cfg_set_hard_bytelimit(l, XFRM_INF_LIMIT);
	(void)xfrmnl_ltime_cfg_set_soft_packetlimit(l, sa ? TUNNEL_SOFT_PACKETS : XFRM_INF_LIMIT);
	(void)xfrmnl_ltime_cfg_set_hard_packetlimit(l, sa ? TUNNEL_HARD_PACKETS : XFRM_INF_LIMIT);
	(void)xfrmnl_ltime_cfg_set_soft_addexpires(l, sa ? rekey_sec : 0);
	(void)xfrmnl_ltime_cfg_set_hard_addexpires(l, 0);
	(void)xfrmnl_ltime_cfg_set_soft_useexpires(l, 0);
	(void)xfrmnl_ltime_cfg_set_hard_useexpires(l, 0);
	*ret = l;
	return 0;
}

/* underlay source and destination of the packets going in direction @dir */
static void ends(const struct tunnel_half *h, enum tunnel_dir dir, struct in_addr *src,
		 struct in_addr *dst)
{
	*src = dir == TUNNEL_DIR_OUT ? h->local : h->remote;
	*dst = dir == TUNNEL_DIR_OUT ? h->remote : h->local;
}

int xfrm_msg_sa_id(const struct tunnel_half *h, enum tunnel_dir dir, uint32_t spi,
		   struct xfrmnl_sa **ret)
{
	_cleanup_(xfrmnl_sa_putp) struct xfrmnl_sa *sa = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *dst = NULL;
	struct in_addr s, d;
	int r;

	ends(h, dir, &s, &d);
	sa = xfrmnl_sa_alloc();
	dst = addr4(d);
	if (!sa || !dst)
		return -ENOMEM;
	(void)xfrmnl_sa_set_family(sa, AF_INET);
	r = xfrmnl_sa_set_daddr(sa, dst);
	if (r < 0)
		return nle_to_errno(r);
	(void)xfrmnl_sa_set_spi(sa, spi);
	(void)xfrmnl_sa_set_proto(sa, IPPROTO_ESP);
	*ret = TAKE_PTR(sa);
	return 0;
}

int xfrm_msg_sa(const struct tunnel_half *h, enum tunnel_dir dir, const struct tunnel_sa *tsa,
		struct xfrmnl_sa **ret)
{
	_cleanup_(xfrmnl_sa_putp) struct xfrmnl_sa *sa = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *src = NULL, *any = NULL;
	_cleanup_(xfrmnl_ltime_cfg_putp) struct xfrmnl_ltime_cfg *lft = NULL;
	struct in_addr s, d;
	int r;

	if (tsa->spi < 256 || (h->reqid & TUNNEL_REQID_MASK) != TUNNEL_REQID_BASE)
		return -EINVAL;
	r = xfrm_msg_sa_id(h, dir, tsa->spi, &sa);
	if (r < 0)
		return r;
	ends(h, dir, &s, &d);
	src = addr4(s);
	if (!src)
		return -ENOMEM;
	r = xfrmnl_sa_set_saddr(sa, src);
	if (r < 0)
		return nle_to_errno(r);
	(void)xfrmnl_sa_set_mode(sa, XFRM_MODE_TUNNEL);
	(void)xfrmnl_sa_set_reqid(sa, h->reqid);
	(void)xfrmnl_sa_set_replay_window(sa, REPLAY_WINDOW);
	r = xfrmnl_sa_set_aead_params(sa, TUNNEL_AEAD_NAME, TUNNEL_KEY_BYTES * 8, TUNNEL_ICV_BITS,
				      (const char *)tsa->key);
	if (r < 0)
		return nle_to_errno(r);
	r = lifetime(h->rekey_sec, true, &lft);
	if (r < 0)
		return r;
	(void)xfrmnl_sa_set_lifetime_cfg(sa, lft);
	if (h->encap == TUNNEL_ENCAP_UDP) {
		uint16_t sport = dir == TUNNEL_DIR_OUT ? h->local_port : h->remote_port;
		uint16_t dport = dir == TUNNEL_DIR_OUT ? h->remote_port : h->local_port;

		if (sport == 0 || dport == 0)
			return -EINVAL;
		any = addr4((struct in_addr){ 0 });
		if (!any)
			return -ENOMEM;
		r = xfrmnl_sa_set_encap_tmpl(sa, UDP_ENCAP_ESPINUDP, sport, dport, any);
		if (r < 0)
			return nle_to_errno(r);
	}
	*ret = TAKE_PTR(sa);
	return 0;
}

int xfrm_msg_sp(const struct tunnel_half *h, enum tunnel_dir dir, struct xfrmnl_sp **ret)
{
	_cleanup_(xfrmnl_sp_putp) struct xfrmnl_sp *sp = NULL;
	_cleanup_(xfrmnl_sel_putp) struct xfrmnl_sel *sel = NULL;
	_cleanup_(xfrmnl_user_tmpl_freep) struct xfrmnl_user_tmpl *t = NULL;
	_cleanup_(xfrmnl_ltime_cfg_putp) struct xfrmnl_ltime_cfg *lft = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *sel_s = NULL, *sel_d = NULL, *ts = NULL, *td = NULL;
	struct in_addr s, d;
	int r;

	ends(h, dir, &s, &d);
	sp = xfrmnl_sp_alloc();
	sel = xfrmnl_sel_alloc();
	t = xfrmnl_user_tmpl_alloc();
	sel_s = addr4(dir == TUNNEL_DIR_OUT ? h->local_ov : h->remote_ov);
	sel_d = addr4(dir == TUNNEL_DIR_OUT ? h->remote_ov : h->local_ov);
	ts = addr4(s);
	td = addr4(d);
	if (!sp || !sel || !t || !sel_s || !sel_d || !ts || !td)
		return -ENOMEM;

	(void)xfrmnl_sel_set_family(sel, AF_INET);
	(void)nl_addr_set_prefixlen(sel_s, 32);
	(void)nl_addr_set_prefixlen(sel_d, 32);
	if (xfrmnl_sel_set_saddr(sel, sel_s) < 0 || xfrmnl_sel_set_daddr(sel, sel_d) < 0)
		return -EINVAL;
	(void)xfrmnl_sel_set_prefixlen_s(sel, 32);
	(void)xfrmnl_sel_set_prefixlen_d(sel, 32);
	(void)xfrmnl_sp_set_sel(sp, sel);
	(void)xfrmnl_sp_set_dir(sp, dir == TUNNEL_DIR_OUT ? XFRM_POLICY_OUT : XFRM_POLICY_IN);
	(void)xfrmnl_sp_set_action(sp, XFRM_POLICY_ALLOW);
	r = lifetime(0, false, &lft);
	if (r < 0)
		return r;
	(void)xfrmnl_sp_set_lifetime_cfg(sp, lft);

	(void)xfrmnl_user_tmpl_set_family(t, AF_INET);
	if (xfrmnl_user_tmpl_set_saddr(t, ts) < 0 || xfrmnl_user_tmpl_set_daddr(t, td) < 0)
		return -EINVAL;
	(void)xfrmnl_user_tmpl_set_proto(t, IPPROTO_ESP);
	(void)xfrmnl_user_tmpl_set_mode(t, XFRM_MODE_TUNNEL);
	(void)xfrmnl_user_tmpl_set_reqid(t, h->reqid);
	(void)xfrmnl_user_tmpl_set_aalgos(t, ~0u);
	(void)xfrmnl_user_tmpl_set_ealgos(t, ~0u);
	(void)xfrmnl_user_tmpl_set_calgos(t, ~0u);
	xfrmnl_sp_add_usertemplate(sp, TAKE_PTR(t)); /* the policy owns it now */
	*ret = TAKE_PTR(sp);
	return 0;
}
