// Fuzz target: rtnetlink messages as the runtime (the sandbox's netns, runtime/virtcontainers/
// network.cc) and the agent (the guest's network, agent/network.cc) read them through libnl,
// and the agent's network requests checked against the links they name. The kernel is the
// sender on both sides, but the guest's kernel is the guest's: nothing read may crash us.
//
// Input: netlink messages back to back (struct nlmsghdr framing; the message type modulo 3
// picks link, address or route), then optionally the bytes of a types.Interface (first byte
// even) or types.Route (odd) request.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "agent/network.h"
#include "lib/netlink.h"
#include "runtime/virtcontainers/network.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

[[maybe_unused]] const bool kQuiet = kata::fuzz::quietProtobuf();

using kata::fuzz::check;

// Route messages that libnl 3.7 (Debian 12) mishandles, found by this target (inputs in
// corpus/netlink/): an RTA_MULTIPATH nexthop of length 0 makes its parser loop allocating
// nexthops until memory runs out (oom-multipath-*; libnl ignores the attribute's flag bits), an
// RTA_VIA shorter than its 2-byte family makes it memcpy a negative size (crash-route-via-*).
// The kernel builds route messages itself and never sends either: such a message is not
// handed to libnl. `attrs` spans a route message's attributes or a nexthop's.
bool routeBreaksLibnl(const uint8_t* attrs, size_t len) {
  for (size_t off = 0; off + sizeof(rtattr) <= len;) {
    rtattr a;
    std::memcpy(&a, attrs + off, sizeof a);
    if (a.rta_len < sizeof a || a.rta_len > len - off) return false;  // libnl stops here too
    const size_t payload = a.rta_len - RTA_LENGTH(0);
    const uint8_t* data = attrs + off + RTA_LENGTH(0);
    switch (a.rta_type & NLA_TYPE_MASK) {
      case RTA_VIA:
        if (payload < sizeof(rtvia)) return true;
        break;
      case RTA_MULTIPATH:
        for (size_t nh = 0; nh + sizeof(rtnexthop) <= payload;) {
          rtnexthop n;
          std::memcpy(&n, data + nh, sizeof n);
          if (n.rtnh_len < sizeof n) return true;
          if (n.rtnh_len <= payload - nh &&
              routeBreaksLibnl(data + nh + RTNH_LENGTH(0), n.rtnh_len - RTNH_LENGTH(0)))
            return true;
          nh += RTNH_ALIGN(n.rtnh_len);
        }
        break;
    }
    off += RTA_ALIGN(a.rta_len);
  }
  return false;
}

bool routeBreaksLibnl(const nlmsghdr* hdr) {
  const size_t header = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtmsg));
  if (hdr->nlmsg_len < header) return false;
  return routeBreaksLibnl(reinterpret_cast<const uint8_t*>(hdr) + header, hdr->nlmsg_len - header);
}

// libnl 3.7 indexes a per-family array (AF_MAX entries) with a link message's ifi_family
// when it compares links, reading out of bounds for a family above it (found by this target:
// corpus/netlink/crash-link-family-above-af-max). The kernel's link messages are AF_UNSPEC or
// AF_BRIDGE: no such message is handed to libnl.
bool linkFamilyBreaksLibnl(const nlmsghdr* hdr) {
  if (hdr->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return false;
  ifinfomsg ifi;
  std::memcpy(&ifi, NLMSG_DATA(hdr), sizeof ifi);
  return ifi.ifi_family >= AF_MAX;
}

struct Caches {
  nl_cache* links = nullptr;
  nl_cache* addrs = nullptr;
  nl_cache* routes = nullptr;
  Caches() {
    check(nl_cache_alloc_name("route/link", &links) == 0);
    check(nl_cache_alloc_name("route/addr", &addrs) == 0);
    check(nl_cache_alloc_name("route/route", &routes) == 0);
  }
  ~Caches() {
    nl_cache_free(links);
    nl_cache_free(addrs);
    nl_cache_free(routes);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  // Aligned copy: netlink headers are read as structs (messages start 4-byte aligned).
  std::vector<uint32_t> buf(size / 4 + 1);
  std::memcpy(buf.data(), data, size);
  auto* bytes = reinterpret_cast<uint8_t*>(buf.data());
  Caches c;
  size_t off = 0;
  for (int messages = 0; size - off >= sizeof(nlmsghdr) && messages < 64; messages++) {
    auto* hdr = reinterpret_cast<nlmsghdr*>(bytes + off);
    if (hdr->nlmsg_len < sizeof(nlmsghdr) || hdr->nlmsg_len > size - off) break;
    off = std::min<size_t>(size, off + NLMSG_ALIGN(hdr->nlmsg_len));
    static constexpr uint16_t kTypes[] = {RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE};
    nl_cache* target[] = {c.links, c.addrs, c.routes};
    int kind = hdr->nlmsg_type % 3;
    hdr->nlmsg_type = kTypes[kind];
    if (hdr->nlmsg_type == RTM_NEWROUTE && routeBreaksLibnl(hdr)) continue;
    if (hdr->nlmsg_type == RTM_NEWLINK && linkFamilyBreaksLibnl(hdr)) continue;
    nl_msg* msg = nlmsg_convert(hdr);
    if (!msg) continue;
    (void)nl_cache_parse_and_add(target[kind], msg);  // a malformed message is refused
    nlmsg_free(msg);
  }

  auto endpoints = kata::vc::net::scanEndpoints(c.links, c.addrs);
  for (const auto& e : endpoints) {
    check(!e.name.empty() && e.mac.size() == 17);  // "aa:bb:cc:dd:ee:ff": QEMU's mac=
    for (const auto& a : e.addresses) check(a.prefix >= 0 && a.prefix <= (a.v6 ? 128 : 32));
  }
  for (const auto& r : kata::vc::net::scanRoutes(c.routes, c.links, endpoints)) {
    check(!r.device.empty());
  }
  for (const auto& i : kata::agent::net::interfacesFrom(c.links, c.addrs)) {
    (void)kata::agent::net::checkInterface(i);
  }
  for (const auto& r : kata::agent::net::routesFrom(c.routes, c.links)) {
    (void)kata::agent::net::checkRoute(c.links, r);
  }

  // The rest: a request from the runtime, checked against the links above.
  if (off >= size) return 0;
  const uint8_t* req = data + off;
  size_t reqSize = size - off;
  if (req[0] % 2 == 0) {
    types::Interface want;
    if (want.ParseFromArray(req + 1, static_cast<int>(reqSize - 1))) {
      (void)kata::agent::net::checkInterface(want);
    }
  } else {
    types::Route want;
    if (want.ParseFromArray(req + 1, static_cast<int>(reqSize - 1))) {
      auto st = kata::agent::net::checkRoute(c.links, want);
      check(st.ok() || !st.error().message.empty());
    }
  }
  return 0;
}
