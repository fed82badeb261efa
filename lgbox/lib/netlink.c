/*
 * netlink.c: a small native rtnetlink client (see netlink.h for the why).
 *
 * The socket asks for NETLINK_EXT_ACK so that a refusal comes with the
 * kernel's own sentence ("Invalid prefix for given prefix length"), which
 * net-setup prints next to strerror, and for NETLINK_CAP_ACK so that error
 * messages do not echo our whole request back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>

#include "../lgbox.h"
#include "netlink.h"

/* Large enough for one batch of a link or route dump. */
#define NL_RECV_BUF 32768

int nl_open(struct nl_sock *sk)
{
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	int one = 1;

	memset(sk, 0, sizeof(*sk));
	sk->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (sk->fd < 0)
		return -errno;
	/* Both options are hints: old kernels without them still work. */
	setsockopt(sk->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(sk->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(sk->fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
		int err = -errno;

		close(sk->fd);
		sk->fd = -1;
		return err;
	}
	return 0;
}

void nl_close(struct nl_sock *sk)
{
	if (sk->fd >= 0)
		close(sk->fd);
	sk->fd = -1;
}

void *nl_msg_init(struct nl_msg *msg, uint16_t type, uint16_t flags, size_t family_len)
{
	memset(msg, 0, sizeof(*msg));
	msg->hdr.nlmsg_len = NLMSG_LENGTH(family_len);
	msg->hdr.nlmsg_type = type;
	msg->hdr.nlmsg_flags = NLM_F_REQUEST | flags;
	return NLMSG_DATA(&msg->hdr);
}

static struct rtattr *nl_tail(struct nl_msg *msg)
{
	return (struct rtattr *)(msg->buf + NLMSG_ALIGN(msg->hdr.nlmsg_len));
}

void nl_put(struct nl_msg *msg, uint16_t type, const void *data, size_t len)
{
	struct rtattr *rta = nl_tail(msg);
	size_t new_len = NLMSG_ALIGN(msg->hdr.nlmsg_len) + RTA_SPACE(len);

	if (msg->overflow || new_len > sizeof(msg->buf)) {
		msg->overflow = true;
		return;
	}
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	msg->hdr.nlmsg_len = new_len;
}

void nl_put_u32(struct nl_msg *msg, uint16_t type, uint32_t value)
{
	nl_put(msg, type, &value, sizeof(value));
}

void nl_put_str(struct nl_msg *msg, uint16_t type, const char *str)
{
	nl_put(msg, type, str, strlen(str) + 1);
}

struct rtattr *nl_nest_begin(struct nl_msg *msg, uint16_t type)
{
	struct rtattr *nest = nl_tail(msg);

	nl_put(msg, type, NULL, 0);
	return nest;
}

void nl_nest_end(struct nl_msg *msg, struct rtattr *nest)
{
	if (!msg->overflow)
		nest->rta_len = msg->buf + msg->hdr.nlmsg_len - (char *)nest;
}

void nl_parse_attrs(struct rtattr *tb[], int max, const struct rtattr *rta, int len)
{
	memset(tb, 0, sizeof(*tb) * (max + 1));
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type <= max)
			tb[rta->rta_type] = (struct rtattr *)rta;
	}
}

/* Copies the extended-ack message of an NLMSG_ERROR into sk->err_msg. */
static void nl_save_extack(struct nl_sock *sk, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = NLMSG_DATA(nlh);
	struct rtattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t offset;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* Without NLM_F_CAPPED the error carries our whole request first. */
	offset = NLMSG_HDRLEN + sizeof(*err);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		offset += NLMSG_ALIGN(err->msg.nlmsg_len) - NLMSG_HDRLEN;
	if (offset >= nlh->nlmsg_len)
		return;
	nl_parse_attrs(tb, NLMSGERR_ATTR_MAX, (const struct rtattr *)((const char *)nlh + offset),
		       nlh->nlmsg_len - offset);
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(sk->err_msg, sizeof(sk->err_msg), "%.*s",
			 (int)RTA_PAYLOAD(tb[NLMSGERR_ATTR_MSG]),
			 (const char *)RTA_DATA(tb[NLMSGERR_ATTR_MSG]));
}

/*
 * Handles one received message; returns 1 when the exchange is complete,
 * 0 to keep reading, or a negative errno.
 */
static int nl_handle_reply(struct nl_sock *sk, const struct nlmsghdr *nlh,
			   nl_reply_fn on_reply, void *arg)
{
	if (nlh->nlmsg_seq != sk->seq)
		return 0;	/* a stale answer to an earlier request */
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *err = NLMSG_DATA(nlh);

		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*err)))
			return -EBADMSG;
		if (err->error)
			nl_save_extack(sk, nlh);
		return err->error ? err->error : 1;
	}
	if (nlh->nlmsg_type == NLMSG_DONE) {
		/* A dump may end with an error code in place of the count. */
		if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
			int status = *(const int *)NLMSG_DATA(nlh);

			if (status < 0)
				return status;
		}
		return 1;
	}
	if (on_reply) {
		int ret = on_reply(nlh, arg);

		if (ret < 0)
			return ret;
	}
	return 0;
}

int nl_transact(struct nl_sock *sk, struct nl_msg *msg, nl_reply_fn on_reply, void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	char buf[NL_RECV_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	int ret = 0;

	if (msg->overflow)
		return -EMSGSIZE;
	sk->err_msg[0] = '\0';
	msg->hdr.nlmsg_seq = ++sk->seq;
	/* Dumps end with NLMSG_DONE; everything else gets an explicit ack. */
	if ((msg->hdr.nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP)
		msg->hdr.nlmsg_flags |= NLM_F_ACK;
	if (sendto(sk->fd, msg->buf, msg->hdr.nlmsg_len, 0,
		   (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;

	while (ret == 0) {
		ssize_t len = recv(sk->fd, buf, sizeof(buf), MSG_TRUNC);
		const struct nlmsghdr *nlh;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if ((size_t)len > sizeof(buf))
			return -EMSGSIZE;
		for (nlh = (const struct nlmsghdr *)buf; ret == 0 && NLMSG_OK(nlh, len);
		     nlh = NLMSG_NEXT(nlh, len))
			ret = nl_handle_reply(sk, nlh, on_reply, arg);
	}
	return ret < 0 ? ret : 0;
}

/* --- links --- */

static void rtnl_link_parse_tun(struct rtnl_link *link, const struct rtattr *data)
{
	struct rtattr *tb[IFLA_TUN_MAX + 1];

	nl_parse_attrs(tb, IFLA_TUN_MAX, RTA_DATA(data), RTA_PAYLOAD(data));
	if (tb[IFLA_TUN_TYPE])
		link->tun_type = *(uint8_t *)RTA_DATA(tb[IFLA_TUN_TYPE]);
	/* The kernel reports owner/group only when they are set. */
	link->tun_has_owner = tb[IFLA_TUN_OWNER] != NULL;
	if (link->tun_has_owner)
		link->tun_owner = *(uint32_t *)RTA_DATA(tb[IFLA_TUN_OWNER]);
	link->tun_has_group = tb[IFLA_TUN_GROUP] != NULL;
	if (link->tun_has_group)
		link->tun_group = *(uint32_t *)RTA_DATA(tb[IFLA_TUN_GROUP]);
}

static void rtnl_link_parse_info(struct rtnl_link *link, const struct rtattr *info)
{
	struct rtattr *tb[IFLA_INFO_MAX + 1];

	nl_parse_attrs(tb, IFLA_INFO_MAX, RTA_DATA(info), RTA_PAYLOAD(info));
	if (tb[IFLA_INFO_KIND])
		snprintf(link->kind, sizeof(link->kind), "%.*s",
			 (int)RTA_PAYLOAD(tb[IFLA_INFO_KIND]),
			 (const char *)RTA_DATA(tb[IFLA_INFO_KIND]));
	if (!strcmp(link->kind, "tun") && tb[IFLA_INFO_DATA])
		rtnl_link_parse_tun(link, tb[IFLA_INFO_DATA]);
}

static int rtnl_link_parse(const struct nlmsghdr *nlh, void *arg)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nlh);
	struct rtnl_link *link = arg;
	struct rtattr *tb[IFLA_MAX + 1];

	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return -EBADMSG;
	memset(link, 0, sizeof(*link));
	link->ifindex = ifi->ifi_index;
	link->flags = ifi->ifi_flags;
	nl_parse_attrs(tb, IFLA_MAX, IFLA_RTA(ifi), IFLA_PAYLOAD(nlh));
	if (tb[IFLA_IFNAME])
		snprintf(link->name, sizeof(link->name), "%s", (char *)RTA_DATA(tb[IFLA_IFNAME]));
	if (tb[IFLA_MASTER])
		link->master = *(uint32_t *)RTA_DATA(tb[IFLA_MASTER]);
	if (tb[IFLA_LINKINFO])
		rtnl_link_parse_info(link, tb[IFLA_LINKINFO]);
	return 0;
}

int rtnl_link_get(struct nl_sock *sk, const char *name, struct rtnl_link *link)
{
	struct nl_msg msg;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	nl_msg_init(&msg, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
	nl_put_str(&msg, IFLA_IFNAME, name);
	nl_put_u32(&msg, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	link->ifindex = 0;
	return nl_transact(sk, &msg, rtnl_link_parse, link);
}

int rtnl_link_create(struct nl_sock *sk, const char *name, const char *kind)
{
	struct nl_msg msg;
	struct rtattr *info;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	nl_msg_init(&msg, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
	nl_put_str(&msg, IFLA_IFNAME, name);
	info = nl_nest_begin(&msg, IFLA_LINKINFO);
	nl_put_str(&msg, IFLA_INFO_KIND, kind);
	nl_nest_end(&msg, info);
	return nl_transact(sk, &msg, NULL, NULL);
}

int rtnl_link_delete(struct nl_sock *sk, int ifindex)
{
	struct nl_msg msg;
	struct ifinfomsg *ifi;

	ifi = nl_msg_init(&msg, RTM_DELLINK, 0, sizeof(*ifi));
	ifi->ifi_index = ifindex;
	return nl_transact(sk, &msg, NULL, NULL);
}

int rtnl_link_set_up(struct nl_sock *sk, int ifindex, bool up)
{
	struct nl_msg msg;
	struct ifinfomsg *ifi;

	ifi = nl_msg_init(&msg, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_index = ifindex;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	return nl_transact(sk, &msg, NULL, NULL);
}

int rtnl_link_set_master(struct nl_sock *sk, int ifindex, int master)
{
	struct nl_msg msg;
	struct ifinfomsg *ifi;

	ifi = nl_msg_init(&msg, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_index = ifindex;
	nl_put_u32(&msg, IFLA_MASTER, master);
	return nl_transact(sk, &msg, NULL, NULL);
}

/* --- addresses and routes --- */

static size_t inet_addr_size(int family)
{
	return family == AF_INET ? 4 : 16;
}

int rtnl_addr_change(struct nl_sock *sk, int cmd, int ifindex, const struct inet_prefix *addr)
{
	size_t size = inet_addr_size(addr->family);
	struct ifaddrmsg *ifa;
	struct nl_msg msg;

	ifa = nl_msg_init(&msg, cmd, cmd == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0,
			  sizeof(*ifa));
	ifa->ifa_family = addr->family;
	ifa->ifa_prefixlen = addr->len;
	ifa->ifa_index = ifindex;
	nl_put(&msg, IFA_LOCAL, addr->addr, size);
	/* IPv4 wants IFA_ADDRESS too (the peer on point-to-point links). */
	nl_put(&msg, IFA_ADDRESS, addr->addr, size);
	return nl_transact(sk, &msg, NULL, NULL);
}

int rtnl_route_change(struct nl_sock *sk, int cmd, const struct rtnl_route *route)
{
	const struct inet_prefix *dest = &route->dest;
	struct nl_msg msg;
	struct rtmsg *rtm;

	rtm = nl_msg_init(&msg, cmd, cmd == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0,
			  sizeof(*rtm));
	rtm->rtm_family = dest->family;
	rtm->rtm_dst_len = dest->len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_type = RTN_UNICAST;
	/* A gateway makes the route universe-wide; without one it is on-link. */
	rtm->rtm_scope = route->has_gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	if (dest->len)
		nl_put(&msg, RTA_DST, dest->addr, inet_addr_size(dest->family));
	if (route->has_gateway)
		nl_put(&msg, RTA_GATEWAY, route->gateway.addr, inet_addr_size(dest->family));
	if (route->oif)
		nl_put_u32(&msg, RTA_OIF, route->oif);
	return nl_transact(sk, &msg, NULL, NULL);
}

struct route_search {
	const struct inet_prefix *dest;
	struct rtnl_route *found;
	bool matched;
};

static int route_search_one(const struct nlmsghdr *nlh, void *arg)
{
	const struct rtmsg *rtm = NLMSG_DATA(nlh);
	struct route_search *search = arg;
	const struct inet_prefix *dest = search->dest;
	size_t size = inet_addr_size(dest->family);
	struct rtattr *tb[RTA_MAX + 1];

	if (nlh->nlmsg_type != RTM_NEWROUTE || search->matched ||
	    rtm->rtm_family != dest->family || rtm->rtm_dst_len != dest->len ||
	    rtm->rtm_table != RT_TABLE_MAIN)
		return 0;
	nl_parse_attrs(tb, RTA_MAX, RTM_RTA(rtm), RTM_PAYLOAD(nlh));
	if (tb[RTA_TABLE] && *(uint32_t *)RTA_DATA(tb[RTA_TABLE]) != RT_TABLE_MAIN)
		return 0;
	if (dest->len && (!tb[RTA_DST] || memcmp(RTA_DATA(tb[RTA_DST]), dest->addr, size)))
		return 0;
	search->matched = true;
	memset(search->found, 0, sizeof(*search->found));
	search->found->dest = *dest;
	if (tb[RTA_GATEWAY]) {
		search->found->has_gateway = true;
		search->found->gateway.family = dest->family;
		memcpy(search->found->gateway.addr, RTA_DATA(tb[RTA_GATEWAY]), size);
	}
	if (tb[RTA_OIF])
		search->found->oif = *(uint32_t *)RTA_DATA(tb[RTA_OIF]);
	return 0;
}

int rtnl_route_get(struct nl_sock *sk, const struct inet_prefix *dest, struct rtnl_route *route)
{
	struct route_search search = { .dest = dest, .found = route };
	struct nl_msg msg;
	struct rtmsg *rtm;
	int ret;

	rtm = nl_msg_init(&msg, RTM_GETROUTE, NLM_F_DUMP, sizeof(*rtm));
	rtm->rtm_family = dest->family;
	ret = nl_transact(sk, &msg, route_search_one, &search);
	if (ret < 0)
		return ret;
	return search.matched ? 0 : -ESRCH;
}

int inet_prefix_parse(const char *text, struct inet_prefix *prefix, bool len_optional)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t addr_len = slash ? (size_t)(slash - text) : strlen(text);
	unsigned int max_len;

	memset(prefix, 0, sizeof(*prefix));
	if (addr_len >= sizeof(addr) || (!slash && !len_optional))
		return -EINVAL;
	memcpy(addr, text, addr_len);
	addr[addr_len] = '\0';
	if (inet_pton(AF_INET, addr, prefix->addr) == 1)
		prefix->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, prefix->addr) == 1)
		prefix->family = AF_INET6;
	else
		return -EINVAL;
	max_len = prefix->family == AF_INET ? 32 : 128;
	prefix->len = max_len;
	if (slash) {
		uint64_t len;

		if (lgbox_parse_uint(slash + 1, max_len, &len) < 0)
			return -EINVAL;
		prefix->len = len;
	}
	return 0;
}

const char *inet_prefix_format(const struct inet_prefix *prefix, bool with_len, char *buf,
			       size_t size)
{
	char addr[INET6_ADDRSTRLEN];

	if (!inet_ntop(prefix->family, prefix->addr, addr, sizeof(addr)))
		snprintf(addr, sizeof(addr), "?");
	if (with_len)
		snprintf(buf, size, "%s/%u", addr, prefix->len);
	else
		snprintf(buf, size, "%s", addr);
	return buf;
}
