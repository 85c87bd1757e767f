// The sandbox's network: the interfaces a container manager (CNI, containerd, a test) put in
// the network namespace named by the spec reach the guest through taps, like upstream Kata's
// "tcfilter" model. For each Ethernet interface of the netns the runtime creates a tap next to
// it and redirects every frame both ways with tc (ingress qdisc, u32 match-all, mirred
// redirect); QEMU gets the tap's fd as a virtio-net NIC with the interface's MAC address, and
// the agent gives the guest's NIC the interface's name, MTU, addresses and routes.
#pragma once

#include <string>
#include <vector>

#include "lib/result.h"
#include "lib/unique_fd.h"

struct nl_cache;

namespace kata::vc::net {

struct Address {
  bool v6 = false;
  std::string ip;  // "10.0.0.2"
  int prefix = 0;
};

struct Route {
  std::string dest;  // "10.1.0.0/16"; "" for the default route
  std::string gateway;
  std::string device;  // the interface's name (the same in the netns and in the guest)
  std::string source;
  int scope = 0;
};

struct Endpoint {
  std::string name;  // the interface in the netns ("eth0"), and the guest NIC's name
  std::string mac;   // "02:42:ac:11:00:02": the guest NIC's MAC
  int mtu = 1500;
  std::string tap;  // "tap0_kata", next to it in the netns
  std::vector<Address> addresses;
};

struct SandboxNetwork {
  std::vector<Endpoint> endpoints;
  std::vector<Route> routes;  // every endpoint's routes except the kernel's prefix routes
};

/// What attach() set up, with the taps' fds for QEMU (in endpoint order).
struct Attached {
  SandboxNetwork network;
  std::vector<UniqueFd> taps;
};

/// The interfaces to mirror among `links` and their addresses from `addrs` (libnl caches of
/// the netns's RTM_NEWLINK/RTM_NEWADDR messages): up, Ethernet, not loopback, not one of our
/// taps. Pure: fuzzed with arbitrary messages (tests/fuzz/netlink_fuzz.cc).
std::vector<Endpoint> scanEndpoints(nl_cache* links, nl_cache* addrs);

/// The main table's routes through `endpoints`, without the kernel's prefix routes (the
/// guest makes its own when the addresses are set) and IPv6 link-local and multicast ones.
std::vector<Route> scanRoutes(nl_cache* routes, nl_cache* links,
                              const std::vector<Endpoint>& endpoints);

/// Scans the network namespace at `netnsPath` and wires a tap to each Ethernet interface that
/// is up (loopback and our own taps are skipped). The host's namespace (the runtime's or
/// init's) is refused. On failure nothing is left in the netns.
/// A netns without such interfaces gives no endpoints (the guest then has loopback only).
Result<Attached> attach(const std::string& netnsPath);

/// Makes a new network namespace, loopback up, kept alive by a bind mount at `path` (which
/// must not exist): the sandbox's own, for a spec that asks for a network namespace without
/// naming one (Docker's, runc's). Nothing is left on failure.
Status createNetns(const std::string& path);

/// Undoes createNetns: the bind mount and the file go (holders elsewhere keep the namespace).
/// A path that is not there is not an error.
Status removeNetns(const std::string& path);

/// Removes what attach() added to the netns: the taps and the ingress qdiscs (with their
/// filters) on the interfaces. A netns that is gone has nothing left to remove. Never stops
/// half-way; returns the first error.
Status detach(const std::string& netnsPath, const std::vector<Endpoint>& endpoints);

}  // namespace kata::vc::net
