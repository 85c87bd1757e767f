// rtnetlink through libnl-route: owning pointers for libnl objects, libnl errors as Errors, the
// route socket and the link/address/route caches, address text. Shared by the agent (the
// guest's network) and the runtime (the sandbox network namespace on the host).
#pragma once

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include <memory>
#include <string>

#include "lib/result.h"

namespace kata::nl {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const {
    if (p) Free(p);
  }
};
using SockPtr = std::unique_ptr<nl_sock, Deleter<nl_sock, nl_socket_free>>;
using CachePtr = std::unique_ptr<nl_cache, Deleter<nl_cache, nl_cache_free>>;
using LinkPtr = std::unique_ptr<rtnl_link, Deleter<rtnl_link, rtnl_link_put>>;
using NlAddrPtr = std::unique_ptr<nl_addr, Deleter<nl_addr, nl_addr_put>>;
using AddrPtr = std::unique_ptr<rtnl_addr, Deleter<rtnl_addr, rtnl_addr_put>>;
using RoutePtr = std::unique_ptr<rtnl_route, Deleter<rtnl_route, rtnl_route_put>>;
using NeighPtr = std::unique_ptr<rtnl_neigh, Deleter<rtnl_neigh, rtnl_neigh_put>>;

/// libnl's negative NLE_* codes to errno, so that callers (and gRPC status mapping) can tell
/// what happened.
Error nlError(int rc, const std::string& what);

/// A NETLINK_ROUTE socket in the calling thread's network namespace.
Result<SockPtr> connectRoute();
Result<CachePtr> linkCache(nl_sock* sk);
Result<CachePtr> addrCache(nl_sock* sk);
Result<CachePtr> routeCache(nl_sock* sk);

/// An address as text: "10.0.0.2", or with `withPrefix` libnl's form ("10.0.0.0/24"); ""
/// for none, and for an IPv4/IPv6 address of the wrong length (a malformed message).
std::string addrText(nl_addr* a, bool withPrefix);

}  // namespace kata::nl
