/*
 * Unit tests of lib/netlink.c: address/prefix parsing and formatting, the
 * message builder (nested attribute lengths, overflow that refuses to send
 * instead of sending a truncated request), and real exchanges with the
 * kernel in a private network namespace: link lookup, create/delete, a
 * route dump, and a refusal whose extended-ack text reaches err_msg.
 */
#define _GNU_SOURCE
#include "test.h"
#include "../lib/netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

static void test_prefix_parse_ipv4(void)
{
	struct inet_prefix p;

	CHECK_EQ(inet_prefix_parse("10.1.2.3/24", &p, false), 0);
	CHECK_EQ(p.family, AF_INET);
	CHECK_EQ(p.len, 24);
	CHECK(!memcmp(p.addr, "\x0a\x01\x02\x03", 4));
	CHECK_EQ(inet_prefix_parse("0.0.0.0/0", &p, false), 0);
	CHECK_EQ(p.len, 0);
	CHECK_EQ(inet_prefix_parse("10.1.2.3", &p, true), 0);
	CHECK_EQ(p.len, 32);
}

static void test_prefix_parse_ipv6(void)
{
	struct inet_prefix p;

	CHECK_EQ(inet_prefix_parse("fd00::1/64", &p, false), 0);
	CHECK_EQ(p.family, AF_INET6);
	CHECK_EQ(p.len, 64);
	CHECK_EQ(p.addr[0], 0xfd);
	CHECK_EQ(p.addr[15], 1);
	CHECK_EQ(inet_prefix_parse("::1", &p, true), 0);
	CHECK_EQ(p.len, 128);
}

static void test_prefix_parse_rejects(void)
{
	static const char *const bad[] = {
		"10.1.2.3", "10.1.2.300/24", "10.1.2.3/33", "10.1.2.3/", "10.1.2.3/-1",
		"10.1.2.3/24x", "fd00::1/129", "fd00::g/64", "/24", "", "web/24",
		"10.1.2.3/ 24",
	};
	struct inet_prefix p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (inet_prefix_parse(bad[i], &p, false) != -EINVAL) {
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
			CHECK(!"a malformed prefix was accepted");
		}
	}
}

static void test_prefix_format_round_trip(void)
{
	static const char *const good[] = { "10.1.2.3/24", "0.0.0.0/0", "fd00::1/64", "::/0" };
	char buf[INET_PREFIX_STRLEN];
	struct inet_prefix p;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK_EQ(inet_prefix_parse(good[i], &p, false), 0);
		CHECK(!strcmp(inet_prefix_format(&p, true, buf, sizeof(buf)), good[i]));
	}
	CHECK(!strcmp(inet_prefix_format(&p, false, buf, sizeof(buf)), "::"));
}

static void test_msg_nesting(void)
{
	struct nl_msg msg;
	struct rtattr *nest, *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1];
	struct ifinfomsg *ifi = nl_msg_init(&msg, RTM_NEWLINK, NLM_F_CREATE, sizeof(*ifi));

	nl_put_str(&msg, IFLA_IFNAME, "br0");
	nest = nl_nest_begin(&msg, IFLA_LINKINFO);
	nl_put_str(&msg, IFLA_INFO_KIND, "bridge");
	nl_nest_end(&msg, nest);
	nl_put_u32(&msg, IFLA_MTU, 9000);
	CHECK(!msg.overflow);
	CHECK_EQ(msg.hdr.nlmsg_flags, NLM_F_REQUEST | NLM_F_CREATE);
	/* ifname "br0\0" = 8, kind "bridge\0" = 12 inside a 4-byte nest, mtu 8 */
	CHECK_EQ(msg.hdr.nlmsg_len, NLMSG_LENGTH(sizeof(*ifi)) + 8 + 4 + 12 + 8);
	nl_parse_attrs(tb, IFLA_MAX, IFLA_RTA(ifi), IFLA_PAYLOAD(&msg.hdr));
	CHECK(tb[IFLA_IFNAME] && !strcmp(RTA_DATA(tb[IFLA_IFNAME]), "br0"));
	CHECK(tb[IFLA_MTU] && *(uint32_t *)RTA_DATA(tb[IFLA_MTU]) == 9000);
	CHECK(tb[IFLA_LINKINFO] && RTA_PAYLOAD(tb[IFLA_LINKINFO]) == 12);
	if (!tb[IFLA_LINKINFO])
		return;
	nl_parse_attrs(info, IFLA_INFO_MAX, RTA_DATA(tb[IFLA_LINKINFO]),
		       RTA_PAYLOAD(tb[IFLA_LINKINFO]));
	CHECK(info[IFLA_INFO_KIND] && !strcmp(RTA_DATA(info[IFLA_INFO_KIND]), "bridge"));
}

static void test_msg_overflow_is_not_sent(void)
{
	char big[NL_MSG_MAX / 2];
	struct nl_sock sk = { .fd = -1 };
	struct nl_msg msg;

	memset(big, 'x', sizeof(big));
	nl_msg_init(&msg, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	nl_put(&msg, IFLA_IFALIAS, big, sizeof(big));
	CHECK(!msg.overflow);
	nl_put(&msg, IFLA_IFALIAS, big, sizeof(big));
	CHECK(msg.overflow);
	/* fd -1 proves nothing was sent: sendto would fail with EBADF. */
	CHECK_EQ(nl_transact(&sk, &msg, NULL, NULL), -EMSGSIZE);
}

/* Enters a network namespace of our own (as root, or in a user namespace). */
static bool private_netns(void)
{
	static int done;

	if (!done)
		done = unshare(CLONE_NEWNET) == 0 || unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0 ?
		       1 : -1;
	if (done < 0)
		fprintf(stderr, "  cannot create a network namespace: %s\n", strerror(errno));
	return done > 0;
}

static void test_kernel_link_lookup(void)
{
	struct rtnl_link link;
	struct nl_sock sk;

	CHECK(private_netns());
	CHECK_EQ(nl_open(&sk), 0);
	CHECK_EQ(rtnl_link_get(&sk, "lo", &link), 0);
	CHECK_EQ(link.ifindex, 1);
	CHECK(!strcmp(link.name, "lo"));
	CHECK(link.flags & IFF_LOOPBACK);
	CHECK_EQ(rtnl_link_get(&sk, "nosuchlink0", &link), -ENODEV);
	CHECK_EQ(rtnl_link_get(&sk, "a-name-longer-than-15", &link), -ENAMETOOLONG);
	nl_close(&sk);
}

static void test_kernel_bridge_and_route(void)
{
	struct rtnl_link bridge;
	struct rtnl_route route = { .oif = 0 }, found;
	struct inet_prefix addr;
	struct nl_sock sk;

	CHECK(private_netns());
	CHECK_EQ(nl_open(&sk), 0);
	CHECK_EQ(rtnl_link_create(&sk, "tbr0", "bridge"), 0);
	CHECK_EQ(rtnl_link_create(&sk, "tbr0", "bridge"), -EEXIST);
	CHECK_EQ(rtnl_link_get(&sk, "tbr0", &bridge), 0);
	CHECK(!strcmp(bridge.kind, "bridge"));
	CHECK_EQ(rtnl_link_set_up(&sk, bridge.ifindex, true), 0);
	CHECK_EQ(rtnl_link_get(&sk, "tbr0", &bridge), 0);
	CHECK(bridge.flags & IFF_UP);

	CHECK_EQ(inet_prefix_parse("10.5.0.1/24", &addr, false), 0);
	CHECK_EQ(rtnl_addr_change(&sk, RTM_NEWADDR, bridge.ifindex, &addr), 0);
	CHECK_EQ(rtnl_addr_change(&sk, RTM_NEWADDR, bridge.ifindex, &addr), -EEXIST);

	CHECK_EQ(inet_prefix_parse("10.6.0.0/16", &route.dest, false), 0);
	CHECK_EQ(inet_prefix_parse("10.5.0.2", &route.gateway, true), 0);
	route.has_gateway = true;
	CHECK_EQ(rtnl_route_change(&sk, RTM_NEWROUTE, &route), 0);
	CHECK_EQ(rtnl_route_get(&sk, &route.dest, &found), 0);
	CHECK(found.has_gateway && !memcmp(found.gateway.addr, route.gateway.addr, 4));
	CHECK_EQ(found.oif, bridge.ifindex);
	CHECK_EQ(rtnl_route_change(&sk, RTM_DELROUTE, &route), 0);
	CHECK_EQ(rtnl_route_get(&sk, &route.dest, &found), -ESRCH);

	CHECK_EQ(rtnl_link_delete(&sk, bridge.ifindex), 0);
	CHECK_EQ(rtnl_link_get(&sk, "tbr0", &bridge), -ENODEV);
	nl_close(&sk);
}

static void test_kernel_refusal_has_extack(void)
{
	struct rtnl_route route = { .has_gateway = false };
	struct rtnl_link lo;
	struct nl_sock sk;

	CHECK(private_netns());
	CHECK_EQ(nl_open(&sk), 0);
	CHECK_EQ(rtnl_link_get(&sk, "lo", &lo), 0);
	/* Host bits set beyond the prefix length: the kernel explains why. */
	CHECK_EQ(inet_prefix_parse("10.7.0.1/16", &route.dest, false), 0);
	route.oif = lo.ifindex;
	CHECK_EQ(rtnl_route_change(&sk, RTM_NEWROUTE, &route), -EINVAL);
	CHECK(strstr(sk.err_msg, "prefix") != NULL);
	fprintf(stderr, "  kernel said: \"%s\"\n", sk.err_msg);
	/* The message belongs to one exchange only. */
	CHECK_EQ(rtnl_link_get(&sk, "lo", &lo), 0);
	CHECK_EQ(sk.err_msg[0], '\0');
	nl_close(&sk);
}

int main(void)
{
	TEST_RUN(test_prefix_parse_ipv4);
	TEST_RUN(test_prefix_parse_ipv6);
	TEST_RUN(test_prefix_parse_rejects);
	TEST_RUN(test_prefix_format_round_trip);
	TEST_RUN(test_msg_nesting);
	TEST_RUN(test_msg_overflow_is_not_sent);
	TEST_RUN(test_kernel_link_lookup);
	TEST_RUN(test_kernel_bridge_and_route);
	TEST_RUN(test_kernel_refusal_has_extack);
	return test_summary();
}
