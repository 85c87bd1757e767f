#include "agent/network.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <string_view>

#include "lib/netlink.h"
#include "lib/parse.h"

namespace kata::agent::net {

namespace {

constexpr size_t kMaxAddresses = 64;
constexpr size_t kMaxRoutes = 1024;

using nl::AddrPtr;
using nl::addrCache;
using nl::addrText;
using nl::CachePtr;
using nl::connectRoute;
using nl::LinkPtr;
using nl::linkCache;
using nl::NeighPtr;
using nl::NlAddrPtr;
using nl::nlError;
using nl::RoutePtr;
using nl::routeCache;
using nl::SockPtr;

Result<NlAddrPtr> parseIp(const std::string& text, const std::string& field) {
  unsigned char bin[16];
  int family = text.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (text.size() > 64 || ::inet_pton(family, text.c_str(), bin) != 1) {
    return makeError(field + " \"" + text.substr(0, 64) + "\" is not an IP address", EINVAL);
  }
  nl_addr* a = nullptr;
  if (int rc = nl_addr_parse(text.c_str(), family, &a); rc < 0) return nlError(rc, field);
  return NlAddrPtr(a);
}

/// "10.0.0.0/24", "fd00::/64", "" or "default" (any address of `family`, 0 when unknown).
Result<NlAddrPtr> parseDestination(const std::string& text, int family) {
  if (text.empty() || text == "default") {
    nl_addr* a = nullptr;
    if (int rc = nl_addr_parse("default", family ? family : AF_INET, &a); rc < 0) {
      return nlError(rc, "route dest");
    }
    return NlAddrPtr(a);
  }
  auto slash = text.find('/');
  std::string ip = text.substr(0, slash);
  KATA_ASSIGN_OR_RETURN(auto a, parseIp(ip, "route dest"));
  unsigned maxLen = nl_addr_get_family(a.get()) == AF_INET ? 32 : 128;
  unsigned len = maxLen;
  if (slash != std::string::npos) {
    auto p = parseInt<unsigned>(text.substr(slash + 1), "route dest prefix length");
    if (!p.ok() || *p > maxLen) {
      return makeError("route dest \"" + text.substr(0, 64) + "\" has a bad prefix length", EINVAL);
    }
    len = *p;
  }
  nl_addr_set_prefixlen(a.get(), static_cast<int>(len));
  return a;
}

Result<NlAddrPtr> parseMac(const std::string& text, const std::string& field) {
  unsigned v[6];
  char tail;
  if (text.size() != 17 || std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1],
                                       &v[2], &v[3], &v[4], &v[5], &tail) != 6) {
    return makeError(field + " \"" + text.substr(0, 32) + "\" is not a MAC address", EINVAL);
  }
  unsigned char bin[6];
  for (int i = 0; i < 6; ++i) bin[i] = static_cast<unsigned char>(v[i]);
  return NlAddrPtr(nl_addr_build(AF_LLC, bin, sizeof bin));
}

Status validateName(const std::string& name) {
  if (name.size() >= IFNAMSIZ || name == "." || name == ".." ||
      name.find_first_of("/: \t\n") != std::string::npos) {
    return makeError("interface name \"" + name.substr(0, 32) + "\" is invalid", EINVAL);
  }
  return okStatus();
}

struct WantedAddress {
  NlAddrPtr addr;
  std::string text;
};

Result<std::vector<WantedAddress>> parseAddresses(const types::Interface& want) {
  if (static_cast<size_t>(want.ipaddresses_size()) > kMaxAddresses) {
    return makeError("interface: more than 64 addresses", EINVAL);
  }
  std::vector<WantedAddress> out;
  for (const auto& ip : want.ipaddresses()) {
    KATA_ASSIGN_OR_RETURN(auto a, parseIp(ip.address(), "interface address"));
    int family = nl_addr_get_family(a.get());
    if ((ip.family() == types::v6) != (family == AF_INET6)) {
      return makeError("interface address " + ip.address() + " does not match its family", EINVAL);
    }
    unsigned maxLen = family == AF_INET ? 32 : 128;
    const std::string& m = ip.mask();
    auto len = parseInt<unsigned>(m, "interface address mask");
    if (!len.ok() || *len > maxLen) {
      return makeError("interface address " + ip.address() + ": mask \"" + m.substr(0, 16) +
                           "\" is not a prefix length",
                       EINVAL);
    }
    nl_addr_set_prefixlen(a.get(), static_cast<int>(*len));
    out.push_back({std::move(a), ip.address() + "/" + m});
  }
  return out;
}

struct CheckedInterface {
  NlAddrPtr mac;
  std::vector<WantedAddress> addresses;
};

Result<CheckedInterface> checkedInterface(const types::Interface& want) {
  if (want.hwaddr().empty()) return makeError("interface hwAddr is missing", EINVAL);
  KATA_ASSIGN_OR_RETURN(auto mac, parseMac(want.hwaddr(), "interface hwAddr"));
  if (!want.name().empty()) KATA_TRY(validateName(want.name()));
  if (want.mtu() != 0 && (want.mtu() < 68 || want.mtu() > 65535)) {
    return makeError("interface mtu " + std::to_string(want.mtu()) + " is out of range 68..65535",
                     EINVAL);
  }
  KATA_ASSIGN_OR_RETURN(auto addresses, parseAddresses(want));
  return CheckedInterface{std::move(mac), std::move(addresses)};
}

rtnl_link* findByMac(nl_cache* links, nl_addr* mac) {
  for (nl_object* o = nl_cache_get_first(links); o; o = nl_cache_get_next(o)) {
    auto* link = reinterpret_cast<rtnl_link*>(o);
    nl_addr* a = rtnl_link_get_addr(link);
    if (a && nl_addr_get_len(a) == 6 && nl_addr_cmp(a, mac) == 0) return link;
  }
  return nullptr;
}

types::Interface describeLink(rtnl_link* link, nl_cache* addrs) {
  const int ifindex = rtnl_link_get_ifindex(link);
  types::Interface out;
  const char* name = rtnl_link_get_name(link);  // NULL for a message without IFLA_IFNAME
  out.set_device(name ? name : "");
  out.set_name(name ? name : "");
  out.set_mtu(rtnl_link_get_mtu(link));
  out.set_raw_flags(rtnl_link_get_flags(link));
  if (const char* type = rtnl_link_get_type(link)) out.set_type(type);
  if (nl_addr* mac = rtnl_link_get_addr(link); mac && nl_addr_get_len(mac) == 6) {
    char buf[32];
    out.set_hwaddr(nl_addr2str(mac, buf, sizeof buf));
  }
  for (nl_object* o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    if (rtnl_addr_get_ifindex(a) != ifindex) continue;
    const std::string local = addrText(rtnl_addr_get_local(a), false);
    if (local.empty()) continue;  // none, or malformed
    auto* ip = out.add_ipaddresses();
    ip->set_family(rtnl_addr_get_family(a) == AF_INET6 ? types::v6 : types::v4);
    ip->set_address(local);
    ip->set_mask(std::to_string(rtnl_addr_get_prefixlen(a)));
  }
  return out;
}

Result<types::Interface> describeLink(nl_sock* sk, int ifindex) {
  KATA_ASSIGN_OR_RETURN(auto links, linkCache(sk));
  KATA_ASSIGN_OR_RETURN(auto addrs, addrCache(sk));
  rtnl_link* link = rtnl_link_get(links.get(), ifindex);
  if (!link) return makeError("interface " + std::to_string(ifindex) + " vanished", ENOENT);
  LinkPtr held(link);
  return describeLink(link, addrs.get());
}

Result<int> ifindexByName(nl_cache* links, const std::string& name) {
  KATA_TRY(validateName(name));
  int index = rtnl_link_name2i(links, name.c_str());
  if (index <= 0) return makeError("interface \"" + name + "\" not found", ENOENT);
  return index;
}

/// Routes the agent manages: main table, unicast, and not the kernel's IPv6 link-local ones.
bool managedRoute(rtnl_route* r) {
  if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_type(r) != RTN_UNICAST) {
    return false;
  }
  int family = rtnl_route_get_family(r);
  if (family == AF_INET) return true;
  if (family != AF_INET6) return false;
  nl_addr* dst = rtnl_route_get_dst(r);
  if (!dst || nl_addr_get_len(dst) != 16) return true;
  auto* b = static_cast<const unsigned char*>(nl_addr_get_binary_addr(dst));
  bool linkLocal = b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
  bool multicast = b[0] == 0xff;
  return !linkLocal && !multicast;
}

struct PlannedRoute {
  RoutePtr route;
  bool hasGateway;
  std::string shown;
};

Result<PlannedRoute> planRoute(nl_cache* links, const types::Route& r) {
  std::string shown = (r.dest().empty() ? "default" : r.dest()) + " via " +
                      (r.gateway().empty() ? "-" : r.gateway()) + " dev " + r.device();
  shown = shown.substr(0, 200);
  if (r.device().empty()) return makeError("route " + shown + ": device is missing", EINVAL);
  KATA_ASSIGN_OR_RETURN(int ifindex, ifindexByName(links, r.device()));
  NlAddrPtr gw;
  int family = 0;
  if (!r.gateway().empty()) {
    KATA_ASSIGN_OR_RETURN(gw, parseIp(r.gateway(), "route gateway"));
    family = nl_addr_get_family(gw.get());
  }
  KATA_ASSIGN_OR_RETURN(auto dst, parseDestination(r.dest(), family));
  if (family && nl_addr_get_family(dst.get()) != family) {
    return makeError("route " + shown + ": dest and gateway families differ", EINVAL);
  }
  family = nl_addr_get_family(dst.get());
  if (r.scope() > 255) return makeError("route " + shown + ": scope out of range", EINVAL);
  RoutePtr route(rtnl_route_alloc());
  if (!route) return makeError("route: out of memory", ENOMEM);
  rtnl_route_set_family(route.get(), static_cast<uint8_t>(family));
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  rtnl_route_set_protocol(route.get(), RTPROT_BOOT);
  if (rtnl_route_set_dst(route.get(), dst.get()) < 0) {
    return makeError("route " + shown + ": bad dest", EINVAL);
  }
  uint8_t scope = static_cast<uint8_t>(r.scope());
  if (scope == 0 && !gw) scope = RT_SCOPE_LINK;  // a route without gateway is on-link
  rtnl_route_set_scope(route.get(), scope);
  if (!r.source().empty()) {
    KATA_ASSIGN_OR_RETURN(auto src, parseIp(r.source(), "route source"));
    if (nl_addr_get_family(src.get()) != family) {
      return makeError("route " + shown + ": source family differs", EINVAL);
    }
    rtnl_route_set_pref_src(route.get(), src.get());
  }
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!nh) return makeError("route: out of memory", ENOMEM);
  rtnl_route_nh_set_ifindex(nh, ifindex);
  if (gw) rtnl_route_nh_set_gateway(nh, gw.get());
  rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh now
  return PlannedRoute{std::move(route), static_cast<bool>(gw), shown};
}

}  // namespace

bool inInitialNetworkNamespace() {
  // The kernel's initial network namespace always has this inode number (PROC_NET_INIT_INO).
  constexpr ino_t kInitNetInode = 0xEFFFFFF9U;
  struct stat self, init;
  if (::stat("/proc/self/ns/net", &self) != 0) return true;  // cannot tell: assume the worst
  if (self.st_ino == kInitNetInode) return true;
  // PID 1's namespace, when we may look at it (a host that is itself a container).
  return ::stat("/proc/1/ns/net", &init) == 0 && self.st_ino == init.st_ino &&
         self.st_dev == init.st_dev;
}

Status checkInterface(const types::Interface& want) {
  KATA_ASSIGN_OR_RETURN(auto checked, checkedInterface(want));
  (void)checked;
  return okStatus();
}

Result<types::Interface> updateInterface(const types::Interface& want) {
  KATA_ASSIGN_OR_RETURN(CheckedInterface checked, checkedInterface(want));
  NlAddrPtr mac = std::move(checked.mac);
  std::vector<WantedAddress> addresses = std::move(checked.addresses);

  KATA_ASSIGN_OR_RETURN(auto sk, connectRoute());
  KATA_ASSIGN_OR_RETURN(auto links, linkCache(sk.get()));
  rtnl_link* link = findByMac(links.get(), mac.get());
  if (!link) return makeError("no interface has hwAddr " + want.hwaddr(), ENOENT);
  int ifindex = rtnl_link_get_ifindex(link);
  std::string current = rtnl_link_get_name(link);

  // A link must be down to be renamed.
  if (!want.name().empty() && want.name() != current) {
    int other = rtnl_link_name2i(links.get(), want.name().c_str());
    if (other > 0 && other != ifindex) {
      // The guest kernel names its NICs eth0, eth1, ... in PCI order, which need not be the
      // order of the host's names (a container on two networks may get eth1 first): a NIC
      // holding such a kernel name moves aside, and gets its own when the host configures
      // it. Any other holder keeps its name.
      rtnl_link* holder = rtnl_link_get(links.get(), other);
      LinkPtr held(holder);
      const std::string_view name = want.name();
      const bool kernelName = name.size() > 3 && name.substr(0, 3) == "eth" &&
                              name.find_first_not_of("0123456789", 3) == std::string_view::npos;
      if (!holder || !kernelName || (rtnl_link_get_flags(holder) & IFF_LOOPBACK))
        return makeError("interface name " + want.name() + " is taken", EEXIST);
      LinkPtr aside(rtnl_link_alloc());
      rtnl_link_unset_flags(aside.get(), IFF_UP);
      rtnl_link_set_name(aside.get(), ("kata_tmp" + std::to_string(other)).c_str());
      if (int rc = rtnl_link_change(sk.get(), holder, aside.get(), 0); rc < 0)
        return nlError(rc, "move " + want.name() + " aside");
    }
    LinkPtr down(rtnl_link_alloc());
    rtnl_link_unset_flags(down.get(), IFF_UP);
    if (int rc = rtnl_link_change(sk.get(), link, down.get(), 0); rc < 0) {
      return nlError(rc, "set " + current + " down");
    }
    LinkPtr rename(rtnl_link_alloc());
    rtnl_link_set_name(rename.get(), want.name().c_str());
    if (int rc = rtnl_link_change(sk.get(), link, rename.get(), 0); rc < 0) {
      return nlError(rc, "rename " + current + " to " + want.name());
    }
  }
  if (want.mtu() != 0) {
    LinkPtr mtu(rtnl_link_alloc());
    rtnl_link_set_mtu(mtu.get(), static_cast<unsigned>(want.mtu()));
    if (int rc = rtnl_link_change(sk.get(), link, mtu.get(), 0); rc < 0) {
      return nlError(rc, "set mtu of " + current);
    }
  }

  // Replace the addresses: drop those not asked for, add the missing ones.
  KATA_ASSIGN_OR_RETURN(auto addrs, addrCache(sk.get()));
  std::vector<bool> present(addresses.size(), false);
  for (nl_object* o = nl_cache_get_first(addrs.get()); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    if (rtnl_addr_get_ifindex(a) != ifindex || !rtnl_addr_get_local(a)) continue;
    bool keep = false;
    for (size_t i = 0; i < addresses.size(); ++i) {
      if (nl_addr_cmp(rtnl_addr_get_local(a), addresses[i].addr.get()) == 0 &&
          static_cast<unsigned>(rtnl_addr_get_prefixlen(a)) ==
              nl_addr_get_prefixlen(addresses[i].addr.get())) {
        keep = present[i] = true;
      }
    }
    // The kernel's own IPv6 link-local address comes back with the link.
    if (!keep) {
      if (int rc = rtnl_addr_delete(sk.get(), a, 0);
          rc < 0 && rc != -NLE_OBJ_NOTFOUND && rc != -NLE_NOADDR) {
        return nlError(rc, "remove address " + addrText(rtnl_addr_get_local(a), true));
      }
    }
  }
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (present[i]) continue;
    AddrPtr a(rtnl_addr_alloc());
    rtnl_addr_set_ifindex(a.get(), ifindex);
    if (int rc = rtnl_addr_set_local(a.get(), addresses[i].addr.get()); rc < 0) {
      return nlError(rc, "address " + addresses[i].text);
    }
    rtnl_addr_set_prefixlen(a.get(), nl_addr_get_prefixlen(addresses[i].addr.get()));
    if (int rc = rtnl_addr_add(sk.get(), a.get(), 0); rc < 0) {
      return nlError(rc, "add address " + addresses[i].text + " to " + current);
    }
  }

  LinkPtr up(rtnl_link_alloc());
  rtnl_link_set_flags(up.get(), IFF_UP);
  KATA_ASSIGN_OR_RETURN(auto fresh, linkCache(sk.get()));
  rtnl_link* now = rtnl_link_get(fresh.get(), ifindex);
  if (!now) return makeError("interface " + current + " vanished", ENOENT);
  LinkPtr heldNow(now);
  if (int rc = rtnl_link_change(sk.get(), now, up.get(), 0); rc < 0) {
    return nlError(rc, "set " + current + " up");
  }
  return describeLink(sk.get(), ifindex);
}

std::vector<types::Interface> interfacesFrom(nl_cache* links, nl_cache* addrs) {
  std::vector<types::Interface> out;
  for (nl_object* o = nl_cache_get_first(links); o; o = nl_cache_get_next(o)) {
    out.push_back(describeLink(reinterpret_cast<rtnl_link*>(o), addrs));
  }
  return out;
}

Result<std::vector<types::Interface>> listInterfaces() {
  KATA_ASSIGN_OR_RETURN(auto sk, connectRoute());
  KATA_ASSIGN_OR_RETURN(auto links, linkCache(sk.get()));
  KATA_ASSIGN_OR_RETURN(auto addrs, addrCache(sk.get()));
  return interfacesFrom(links.get(), addrs.get());
}

std::vector<types::Route> routesFrom(nl_cache* routes, nl_cache* links) {
  std::vector<types::Route> out;
  for (nl_object* o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    if (!managedRoute(r)) continue;
    types::Route route;
    nl_addr* dst = rtnl_route_get_dst(r);
    if (dst && nl_addr_get_prefixlen(dst) > 0) {
      const std::string ip = addrText(dst, false);
      if (ip.empty()) continue;  // malformed
      route.set_dest(ip + "/" + std::to_string(nl_addr_get_prefixlen(dst)));
    }
    if (nl_addr* src = rtnl_route_get_pref_src(r)) route.set_source(addrText(src, false));
    route.set_scope(rtnl_route_get_scope(r));
    if (rtnl_route_get_nnexthops(r) > 0) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
      if (nl_addr* gw = rtnl_route_nh_get_gateway(nh)) route.set_gateway(addrText(gw, false));
      char name[IFNAMSIZ + 1] = {};
      if (rtnl_link_i2name(links, rtnl_route_nh_get_ifindex(nh), name, sizeof name)) {
        route.set_device(name);
      }
    }
    out.push_back(std::move(route));
  }
  return out;
}

Result<std::vector<types::Route>> listRoutes() {
  KATA_ASSIGN_OR_RETURN(auto sk, connectRoute());
  KATA_ASSIGN_OR_RETURN(auto links, linkCache(sk.get()));
  KATA_ASSIGN_OR_RETURN(auto routes, routeCache(sk.get()));
  return routesFrom(routes.get(), links.get());
}

Status checkRoute(nl_cache* links, const types::Route& route) {
  KATA_ASSIGN_OR_RETURN(auto planned, planRoute(links, route));
  (void)planned;
  return okStatus();
}

Status updateRoutes(const std::vector<types::Route>& routes) {
  if (routes.size() > kMaxRoutes) return makeError("more than 1024 routes", EINVAL);
  KATA_ASSIGN_OR_RETURN(auto sk, connectRoute());
  KATA_ASSIGN_OR_RETURN(auto links, linkCache(sk.get()));
  std::vector<PlannedRoute> planned;
  for (const auto& r : routes) {
    KATA_ASSIGN_OR_RETURN(auto p, planRoute(links.get(), r));
    planned.push_back(std::move(p));
  }
  KATA_ASSIGN_OR_RETURN(auto existing, routeCache(sk.get()));
  for (nl_object* o = nl_cache_get_first(existing.get()); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    // The kernel's prefix routes belong to the addresses (UpdateInterface): they stay.
    if (!managedRoute(r) || rtnl_route_get_protocol(r) == RTPROT_KERNEL) continue;
    if (int rc = rtnl_route_delete(sk.get(), r, 0); rc < 0 && rc != -NLE_OBJ_NOTFOUND) {
      return nlError(rc, "remove route");
    }
  }
  // On-link routes first: a gateway must be reachable when its route is added.
  std::stable_partition(planned.begin(), planned.end(),
                        [](const PlannedRoute& p) { return !p.hasGateway; });
  for (auto& p : planned) {
    if (int rc = rtnl_route_add(sk.get(), p.route.get(), NLM_F_CREATE | NLM_F_REPLACE); rc < 0) {
      return nlError(rc, "add route " + p.shown);
    }
  }
  return okStatus();
}

Status addArpNeighbors(const std::vector<types::ARPNeighbor>& neighbors) {
  if (neighbors.size() > kMaxRoutes) return makeError("more than 1024 ARP neighbors", EINVAL);
  KATA_ASSIGN_OR_RETURN(auto sk, connectRoute());
  KATA_ASSIGN_OR_RETURN(auto links, linkCache(sk.get()));
  std::vector<NeighPtr> planned;
  for (const auto& n : neighbors) {
    KATA_ASSIGN_OR_RETURN(auto ip, parseIp(n.toipaddress().address(), "neighbor address"));
    KATA_ASSIGN_OR_RETURN(auto mac, parseMac(n.lladdr(), "neighbor lladdr"));
    if (n.device().empty()) return makeError("neighbor device is missing", EINVAL);
    KATA_ASSIGN_OR_RETURN(int ifindex, ifindexByName(links.get(), n.device()));
    if (n.state() < 0 || n.state() > 0xff || n.flags() < 0 || n.flags() > 0xff) {
      return makeError("neighbor " + n.toipaddress().address() + ": state/flags out of range",
                       EINVAL);
    }
    NeighPtr neigh(rtnl_neigh_alloc());
    rtnl_neigh_set_ifindex(neigh.get(), ifindex);
    rtnl_neigh_set_family(neigh.get(), nl_addr_get_family(ip.get()));
    if (rtnl_neigh_set_dst(neigh.get(), ip.get()) < 0) {
      return makeError("neighbor address is invalid", EINVAL);
    }
    rtnl_neigh_set_lladdr(neigh.get(), mac.get());
    rtnl_neigh_set_state(neigh.get(), n.state() ? n.state() : NUD_PERMANENT);
    if (n.flags()) rtnl_neigh_set_flags(neigh.get(), static_cast<unsigned>(n.flags()));
    planned.push_back(std::move(neigh));
  }
  for (size_t i = 0; i < planned.size(); ++i) {
    int rc = rtnl_neigh_add(sk.get(), planned[i].get(), NLM_F_CREATE | NLM_F_REPLACE);
    if (rc < 0) return nlError(rc, "add neighbor " + neighbors[i].toipaddress().address());
  }
  return okStatus();
}

std::vector<grpc::NetworkStats> networkStats() {
  std::vector<grpc::NetworkStats> out;
  auto sk = connectRoute();
  if (!sk.ok()) return out;
  auto links = linkCache(sk->get());
  if (!links.ok()) return out;
  for (nl_object* o = nl_cache_get_first(links->get()); o; o = nl_cache_get_next(o)) {
    auto* link = reinterpret_cast<rtnl_link*>(o);
    if (rtnl_link_get_flags(link) & IFF_LOOPBACK) continue;
    grpc::NetworkStats s;
    s.set_name(rtnl_link_get_name(link));
    s.set_rx_bytes(rtnl_link_get_stat(link, RTNL_LINK_RX_BYTES));
    s.set_rx_packets(rtnl_link_get_stat(link, RTNL_LINK_RX_PACKETS));
    s.set_rx_errors(rtnl_link_get_stat(link, RTNL_LINK_RX_ERRORS));
    s.set_rx_dropped(rtnl_link_get_stat(link, RTNL_LINK_RX_DROPPED));
    s.set_tx_bytes(rtnl_link_get_stat(link, RTNL_LINK_TX_BYTES));
    s.set_tx_packets(rtnl_link_get_stat(link, RTNL_LINK_TX_PACKETS));
    s.set_tx_errors(rtnl_link_get_stat(link, RTNL_LINK_TX_ERRORS));
    s.set_tx_dropped(rtnl_link_get_stat(link, RTNL_LINK_TX_DROPPED));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace kata::agent::net
