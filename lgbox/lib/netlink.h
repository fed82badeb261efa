/*
 * netlink.h: a small rtnetlink client, written natively so that lgbox needs
 * neither iproute2/brctl at run time nor libmnl/libnl at build time.
 *
 * Two layers:
 *  - generic netlink plumbing: a socket that asks the kernel for extended
 *    acks (so errors carry the kernel's own explanation), a fixed-size
 *    message builder with nested attributes, one request/answer exchange
 *    that also walks dumps, and an attribute parser;
 *  - rtnetlink helpers for the objects lgbox manages: links (look up,
 *    create, delete, up/down, bridge master), addresses and routes.
 *
 * Every function returns 0 (or a non-negative value) on success and a
 * negative errno on failure; after a kernel refusal, nl_sock.err_msg holds
 * the extended-ack text (empty if the kernel gave none).
 */
#ifndef LGBOX_NETLINK_H
#define LGBOX_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* Requests lgbox builds are a header plus a few attributes. */
#define NL_MSG_MAX 1024

struct nl_sock {
	int fd;
	uint32_t seq;
	char err_msg[256];
};

struct nl_msg {
	union {
		struct nlmsghdr hdr;
		char buf[NL_MSG_MAX];
	};
	/* Sticky: set when an attribute did not fit, reported by nl_transact. */
	bool overflow;
};

/* Called for every answer message that is not an ack or end of dump. */
typedef int (*nl_reply_fn)(const struct nlmsghdr *reply, void *arg);

int nl_open(struct nl_sock *sk);
void nl_close(struct nl_sock *sk);

/* Starts a message; returns the zeroed family header (ifinfomsg, ...). */
void *nl_msg_init(struct nl_msg *msg, uint16_t type, uint16_t flags, size_t family_len);
void nl_put(struct nl_msg *msg, uint16_t type, const void *data, size_t len);
void nl_put_u32(struct nl_msg *msg, uint16_t type, uint32_t value);
void nl_put_str(struct nl_msg *msg, uint16_t type, const char *str);
struct rtattr *nl_nest_begin(struct nl_msg *msg, uint16_t type);
void nl_nest_end(struct nl_msg *msg, struct rtattr *nest);

/*
 * Sends msg and reads the answer: for a dump until NLMSG_DONE, otherwise
 * until the ack.  on_reply (may be NULL) sees each data message; a
 * negative value from it ends the exchange with that error.
 */
int nl_transact(struct nl_sock *sk, struct nl_msg *msg, nl_reply_fn on_reply, void *arg);

/* Fills tb[0..max] with the last attribute of each type (others NULL). */
void nl_parse_attrs(struct rtattr *tb[], int max, const struct rtattr *rta, int len);

/* --- rtnetlink objects --- */

struct rtnl_link {
	int ifindex;
	unsigned int flags;		/* IFF_UP, ... */
	int master;			/* ifindex of the bridge, 0 if none */
	char name[IFNAMSIZ];
	char kind[16];			/* "bridge", "tun", "veth", "" (physical) */
	int tun_type;			/* IFF_TAP or IFF_TUN when kind is "tun" */
	bool tun_has_owner, tun_has_group;
	uint32_t tun_owner, tun_group;
};

/* An address or a route destination: "10.0.0.1/24", "fd00::1/64". */
struct inet_prefix {
	int family;			/* AF_INET or AF_INET6 */
	unsigned int len;		/* prefix length in bits */
	unsigned char addr[16];
};

/* Returns -ENODEV when no link has that name. */
int rtnl_link_get(struct nl_sock *sk, const char *name, struct rtnl_link *link);
/* Creates a virtual link of the given kind; -EEXIST if the name is taken. */
int rtnl_link_create(struct nl_sock *sk, const char *name, const char *kind);
int rtnl_link_delete(struct nl_sock *sk, int ifindex);
int rtnl_link_set_up(struct nl_sock *sk, int ifindex, bool up);
/* master 0 detaches the link from its bridge. */
int rtnl_link_set_master(struct nl_sock *sk, int ifindex, int master);

/* cmd is RTM_NEWADDR (-EEXIST if present) or RTM_DELADDR. */
int rtnl_addr_change(struct nl_sock *sk, int cmd, int ifindex, const struct inet_prefix *addr);

struct rtnl_route {
	struct inet_prefix dest;
	bool has_gateway;
	struct inet_prefix gateway;	/* len unused */
	int oif;			/* 0: let the kernel pick from the gateway */
};

/* cmd is RTM_NEWROUTE (-EEXIST if present) or RTM_DELROUTE; main table. */
int rtnl_route_change(struct nl_sock *sk, int cmd, const struct rtnl_route *route);
/* Finds the main-table route for exactly route->dest; -ESRCH if none. */
int rtnl_route_get(struct nl_sock *sk, const struct inet_prefix *dest, struct rtnl_route *route);

/*
 * Parses "ADDR/LEN" or, when len_optional, a bare "ADDR" (host length).
 * Returns -EINVAL on anything else (bad address, length out of range).
 */
int inet_prefix_parse(const char *text, struct inet_prefix *prefix, bool len_optional);
/* Formats "ADDR/LEN" (or "ADDR" when with_len is false) into buf. */
const char *inet_prefix_format(const struct inet_prefix *prefix, bool with_len, char *buf,
			       size_t size);
#define INET_PREFIX_STRLEN 64

#endif
