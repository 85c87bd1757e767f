#include "runtime/virtcontainers/network.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/action.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

#include "lib/fs_util.h"
#include "lib/netlink.h"

namespace kata::vc::net {
namespace {

using nl::CachePtr;
using nl::LinkPtr;
using nl::nlError;
using nl::SockPtr;

using QdiscPtr = std::unique_ptr<rtnl_qdisc, nl::Deleter<rtnl_qdisc, rtnl_qdisc_put>>;
using ClsPtr = std::unique_ptr<rtnl_cls, nl::Deleter<rtnl_cls, rtnl_cls_put>>;
using ActPtr = std::unique_ptr<rtnl_act, nl::Deleter<rtnl_act, rtnl_act_put>>;

constexpr size_t kMaxEndpoints = 16;
constexpr const char* kTapSuffix = "_kata";

// Runs the calling thread in another network namespace until destroyed (setns only moves the
// calling thread; sockets keep the namespace they were created in).
class NetnsScope {
 public:
  static Result<NetnsScope> enter(const std::string& path) {
    UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!self) return sysError("open /proc/thread-self/ns/net");
    UniqueFd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!target) return sysError("network namespace " + path);
    if (::setns(target.get(), CLONE_NEWNET) != 0)
      return sysError("enter network namespace " + path);
    return NetnsScope(std::move(self));
  }
  /// Runs the calling thread in a new, empty network namespace.
  static Result<NetnsScope> enterNew() {
    UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!self) return sysError("open /proc/thread-self/ns/net");
    if (::unshare(CLONE_NEWNET) != 0) return sysError("create a network namespace");
    return NetnsScope(std::move(self));
  }
  NetnsScope(NetnsScope&& o) noexcept = default;
  NetnsScope& operator=(NetnsScope&&) = delete;
  ~NetnsScope() {
    if (self_) (void)::setns(self_.get(), CLONE_NEWNET);
  }

 private:
  explicit NetnsScope(UniqueFd self) : self_(std::move(self)) {}
  UniqueFd self_;
};

Result<UniqueFd> createTap(const std::string& name) {
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!fd) return sysError("open /dev/net/tun");
  struct ifreq ifr {};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  name.copy(ifr.ifr_name, IFNAMSIZ - 1);
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) return sysError("create tap " + name);
  return fd;
}

Status setUp(nl_sock* sk, nl_cache* links, const std::string& name, int mtu) {
  rtnl_link* link = rtnl_link_get_by_name(links, name.c_str());
  if (!link) return makeError("link " + name + " not found", ENOENT);
  LinkPtr current(link);
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (mtu > 0) rtnl_link_set_mtu(change.get(), unsigned(mtu));
  if (int rc = rtnl_link_change(sk, current.get(), change.get(), 0); rc < 0)
    return nlError(rc, "set " + name + " up");
  return okStatus();
}

// `ifindex`'s ingress qdisc (handle ffff:), to add or to delete.
Result<QdiscPtr> ingressQdisc(int ifindex, const std::string& what) {
  QdiscPtr q(rtnl_qdisc_alloc());
  rtnl_tc_set_ifindex(TC_CAST(q.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(q.get()), TC_H_INGRESS);
  rtnl_tc_set_handle(TC_CAST(q.get()), TC_HANDLE(0xffff, 0));
  if (int rc = rtnl_tc_set_kind(TC_CAST(q.get()), "ingress"); rc < 0) return nlError(rc, what);
  return q;
}

// One u32 filter on `from`'s ingress qdisc: every frame, mirred to `to`'s egress.
Status addRedirectFilter(nl_sock* sk, int from, int to, const std::string& what) {
  ClsPtr cls(rtnl_cls_alloc());
  rtnl_tc_set_ifindex(TC_CAST(cls.get()), from);
  rtnl_tc_set_parent(TC_CAST(cls.get()), TC_HANDLE(0xffff, 0));
  if (int rc = rtnl_tc_set_kind(TC_CAST(cls.get()), "u32"); rc < 0) return nlError(rc, what);
  rtnl_cls_set_protocol(cls.get(), ETH_P_ALL);
  rtnl_cls_set_prio(cls.get(), 1);
  if (int rc = rtnl_u32_add_key_uint32(cls.get(), 0, 0, 0, 0); rc < 0)
    return nlError(rc, what + ": u32 key");
  // A u32 node runs its actions only when it is terminal (TC_U32_TERMINAL; tc's CLI sets it
  // when given an action); without it the match falls through to the next node and, there
  // being none, the frame goes on to the namespace's own stack. The namespace's copy of the
  // interface still has the container's address, so it answered pings for the guest while
  // every frame the guest sent died on the tap.
  if (int rc = rtnl_u32_set_cls_terminal(cls.get()); rc < 0)
    return nlError(rc, what + ": u32 terminal flag");
  ActPtr act(rtnl_act_alloc());
  if (int rc = rtnl_tc_set_kind(TC_CAST(act.get()), "mirred"); rc < 0) return nlError(rc, what);
  rtnl_mirred_set_action(act.get(), TCA_EGRESS_REDIR);
  rtnl_mirred_set_policy(act.get(), TC_ACT_STOLEN);
  rtnl_mirred_set_ifindex(act.get(), uint32_t(to));
  if (int rc = rtnl_u32_add_action(cls.get(), act.get()); rc < 0)
    return nlError(rc, what + ": mirred action");
  if (int rc = rtnl_cls_add(sk, cls.get(), NLM_F_CREATE | NLM_F_EXCL); rc < 0)
    return nlError(rc, what + ": redirect filter");
  return okStatus();
}

// Every frame arriving on `from` leaves through `to`: an ingress qdisc on `from` with one u32
// filter that matches everything and a mirred egress redirect to `to`. An ingress qdisc that
// is already there (someone else's) is an error and stays untouched; on failure nothing of
// this call is left.
Status redirect(nl_sock* sk, int from, int to, const std::string& what) {
  KATA_ASSIGN_OR_RETURN(QdiscPtr q, ingressQdisc(from, what));
  if (int rc = rtnl_qdisc_add(sk, q.get(), NLM_F_CREATE | NLM_F_EXCL); rc < 0)
    return nlError(rc, what + ": ingress qdisc");
  Status st = addRedirectFilter(sk, from, to, what);
  if (!st.ok()) (void)rtnl_qdisc_delete(sk, q.get());
  return st;
}

// Removes the ingress qdisc of `name` (its filters go with it) and, for a tap, the link.
Status removeFrom(nl_sock* sk, nl_cache* links, const std::string& name, bool deleteLink) {
  const int ifindex = rtnl_link_name2i(links, name.c_str());
  if (ifindex <= 0) return okStatus();  // gone already (a tap goes with QEMU's fd)
  KATA_ASSIGN_OR_RETURN(QdiscPtr q, ingressQdisc(ifindex, "ingress qdisc of " + name));
  Status first;
  // No ingress qdisc (never added, or gone) is not an error: the kernel answers EINVAL/ENOENT.
  if (int rc = rtnl_qdisc_delete(sk, q.get());
      rc < 0 && rc != -NLE_OBJ_NOTFOUND && rc != -NLE_INVAL && rc != -NLE_NODEV)
    first = nlError(rc, "remove the ingress qdisc of " + name);
  if (deleteLink) {
    LinkPtr link(rtnl_link_alloc());
    rtnl_link_set_ifindex(link.get(), ifindex);
    if (int rc = rtnl_link_delete(sk, link.get()); rc < 0 && rc != -NLE_NODEV && first.ok())
      first = nlError(rc, "delete " + name);
  }
  return first;
}

// The runtime's own network namespace and init's are the host's: wiring their interfaces to a
// VM would take the host's traffic away from it.
Status refuseHostNamespace(const std::string& netnsPath) {
  struct stat target {};
  if (::stat(netnsPath.c_str(), &target) != 0) return sysError("network namespace " + netnsPath);
  for (const char* host : {"/proc/self/ns/net", "/proc/1/ns/net"}) {
    struct stat st {};
    if (::stat(host, &st) == 0 && st.st_dev == target.st_dev && st.st_ino == target.st_ino) {
      return makeError("network namespace " + netnsPath +
                           " is the host's: its interfaces cannot be given to a VM (docker "
                           "--network host)",
                       EINVAL);
    }
  }
  return okStatus();
}

}  // namespace

std::vector<Endpoint> scanEndpoints(nl_cache* links, nl_cache* addrs) {
  std::vector<Endpoint> out;
  for (nl_object* o = nl_cache_get_first(links); o; o = nl_cache_get_next(o)) {
    auto* link = reinterpret_cast<rtnl_link*>(o);
    const unsigned flags = rtnl_link_get_flags(link);
    const char* name = rtnl_link_get_name(link);
    if (!name || !*name || (flags & IFF_LOOPBACK) || !(flags & IFF_UP)) continue;
    if (rtnl_link_get_arptype(link) != ARPHRD_ETHER || std::string_view(name).ends_with(kTapSuffix))
      continue;
    nl_addr* mac = rtnl_link_get_addr(link);
    if (!mac || nl_addr_get_len(mac) != ETH_ALEN) continue;
    Endpoint e;
    e.name = name;
    e.mac = nl::addrText(mac, true);
    e.mtu = int(rtnl_link_get_mtu(link));
    const int ifindex = rtnl_link_get_ifindex(link);
    for (nl_object* ao = nl_cache_get_first(addrs); ao; ao = nl_cache_get_next(ao)) {
      auto* a = reinterpret_cast<rtnl_addr*>(ao);
      if (rtnl_addr_get_ifindex(a) != ifindex) continue;
      const int family = rtnl_addr_get_family(a);
      if (family != AF_INET && family != AF_INET6) continue;
      if (family == AF_INET6 && rtnl_addr_get_scope(a) == RT_SCOPE_LINK) continue;  // fe80::
      Address addr;
      addr.v6 = family == AF_INET6;
      addr.ip = nl::addrText(rtnl_addr_get_local(a), false);
      addr.prefix = rtnl_addr_get_prefixlen(a);
      if (addr.ip.empty() || addr.prefix > (addr.v6 ? 128 : 32)) continue;  // malformed
      e.addresses.push_back(addr);
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Route> scanRoutes(nl_cache* routes, nl_cache* links,
                              const std::vector<Endpoint>& endpoints) {
  std::vector<Route> out;
  for (nl_object* o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_type(r) != RTN_UNICAST) continue;
    if (rtnl_route_get_protocol(r) == RTPROT_KERNEL) continue;
    const int family = rtnl_route_get_family(r);
    if (family != AF_INET && family != AF_INET6) continue;
    if (rtnl_route_get_nnexthops(r) != 1) continue;
    rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
    char dev[IFNAMSIZ] = {};
    if (!rtnl_link_i2name(links, rtnl_route_nh_get_ifindex(nh), dev, sizeof dev)) continue;
    bool ours = false;
    for (const auto& e : endpoints) ours = ours || e.name == dev;
    if (!ours) continue;
    Route route;
    nl_addr* dst = rtnl_route_get_dst(r);
    if (dst && nl_addr_get_prefixlen(dst) > 0) {
      const std::string ip = nl::addrText(dst, false);
      if (ip.empty()) continue;  // malformed
      route.dest = ip + "/" + std::to_string(nl_addr_get_prefixlen(dst));
      if (family == AF_INET6 &&
          (route.dest.rfind("fe80:", 0) == 0 || route.dest.rfind("ff", 0) == 0))
        continue;
    }
    route.gateway = nl::addrText(rtnl_route_nh_get_gateway(nh), false);
    route.source = nl::addrText(rtnl_route_get_pref_src(r), false);
    route.device = dev;
    route.scope = rtnl_route_get_scope(r);
    out.push_back(std::move(route));
  }
  return out;
}

Result<Attached> attach(const std::string& netnsPath) {
  KATA_TRY(refuseHostNamespace(netnsPath));
  KATA_ASSIGN_OR_RETURN(NetnsScope scope, NetnsScope::enter(netnsPath));
  KATA_ASSIGN_OR_RETURN(SockPtr sk, nl::connectRoute());
  KATA_ASSIGN_OR_RETURN(CachePtr links, nl::linkCache(sk.get()));
  KATA_ASSIGN_OR_RETURN(CachePtr addrs, nl::addrCache(sk.get()));
  KATA_ASSIGN_OR_RETURN(CachePtr routes, nl::routeCache(sk.get()));
  // Another sandbox's taps: its VM already has these interfaces (docker --network container:X
  // between two VMs). Two guests cannot share one.
  for (nl_object* o = nl_cache_get_first(links.get()); o; o = nl_cache_get_next(o)) {
    const char* name = rtnl_link_get_name(reinterpret_cast<rtnl_link*>(o));
    if (name && std::string_view(name).ends_with(kTapSuffix)) {
      return makeError("network namespace " + netnsPath +
                           " already belongs to another sandbox's VM: containers share a "
                           "network only inside one sandbox (a pod)",
                       EBUSY);
    }
  }
  Attached a;
  a.network.endpoints = scanEndpoints(links.get(), addrs.get());
  if (a.network.endpoints.size() > kMaxEndpoints)
    return makeError("network namespace " + netnsPath + ": more than 16 interfaces", E2BIG);
  a.network.routes = scanRoutes(routes.get(), links.get(), a.network.endpoints);

  std::vector<Endpoint> wired;
  auto undo = [&] {
    for (const auto& e : wired) (void)removeFrom(sk.get(), links.get(), e.name, false);
  };
  for (size_t i = 0; i < a.network.endpoints.size(); ++i) {
    Endpoint& e = a.network.endpoints[i];
    e.tap = "tap" + std::to_string(i) + kTapSuffix;
    auto tap = createTap(e.tap);
    if (!tap.ok()) {
      undo();
      return std::move(tap).error();
    }
    a.taps.push_back(std::move(tap).value());  // the tap goes when this fd closes
    Status st = [&]() -> Status {
      if (int rc = nl_cache_refill(sk.get(), links.get()); rc < 0)
        return nlError(rc, "refresh links");
      KATA_TRY(setUp(sk.get(), links.get(), e.tap, e.mtu));
      const int veth = rtnl_link_name2i(links.get(), e.name.c_str());
      const int tap = rtnl_link_name2i(links.get(), e.tap.c_str());
      KATA_TRY(redirect(sk.get(), veth, tap, e.name + " to " + e.tap));
      wired.push_back(e);  // from here on, undo removes the interface's redirect
      KATA_TRY(redirect(sk.get(), tap, veth, e.tap + " to " + e.name));
      return okStatus();
    }();
    if (!st.ok()) {
      undo();
      return std::move(st).error().wrap("network namespace " + netnsPath);
    }
  }
  return a;
}

Status createNetns(const std::string& path) {
  KATA_TRY(mkdirAll(path.substr(0, path.rfind('/')), 0755));
  UniqueFd file(::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0444));
  if (!file) return sysError("network namespace " + path);
  file.reset();
  Status st = [&]() -> Status {
    KATA_ASSIGN_OR_RETURN(NetnsScope scope, NetnsScope::enterNew());
    // Privileged: a bind mount of the namespace keeps it alive after this thread leaves it.
    if (::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return sysError("bind network namespace to " + path);
    // Loopback up, as a runtime leaves it: Docker's DNS server listens on 127.0.0.11 there.
    KATA_ASSIGN_OR_RETURN(SockPtr sk, nl::connectRoute());
    KATA_ASSIGN_OR_RETURN(CachePtr links, nl::linkCache(sk.get()));
    return setUp(sk.get(), links.get(), "lo", 0);
  }();
  if (!st.ok()) (void)removeNetns(path);
  return st;
}

Status removeNetns(const std::string& path) {
  // Privileged: drops the runtime's hold on the namespace (others may still hold it).
  if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL &&
      errno != ENOENT)
    return sysError("unmount network namespace " + path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return sysError("remove network namespace " + path);
  return okStatus();
}

Status detach(const std::string& netnsPath, const std::vector<Endpoint>& endpoints) {
  if (endpoints.empty()) return okStatus();
  auto scope = NetnsScope::enter(netnsPath);
  if (!scope.ok()) {
    if (scope.error().code == ENOENT) return okStatus();  // the netns is gone, and with it all
    return std::move(scope).error();
  }
  KATA_ASSIGN_OR_RETURN(SockPtr sk, nl::connectRoute());
  KATA_ASSIGN_OR_RETURN(CachePtr links, nl::linkCache(sk.get()));
  Status first;
  for (const auto& e : endpoints) {
    Status st = removeFrom(sk.get(), links.get(), e.name, false);
    if (!st.ok() && first.ok()) first = std::move(st);
    if (!e.tap.empty()) {
      st = removeFrom(sk.get(), links.get(), e.tap, true);
      if (!st.ok() && first.ok()) first = std::move(st);
    }
  }
  return first;
}

}  // namespace kata::vc::net
