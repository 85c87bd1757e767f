// The guest's network, driven by the runtime through the agent API: interfaces (found by MAC
// address), the main routing table and static ARP entries, over rtnetlink (libnl-route), in the
// agent's own network namespace. Every request is checked completely before anything changes.
#pragma once

#include <string>
#include <vector>

#include "lib/result.h"
#include "protocols/agent.pb.h"
#include "protocols/types.pb.h"

struct nl_cache;

namespace kata::agent::net {

/// Finds the link with `want.hwaddr`, then renames it (when a name is given), sets the MTU
/// (when non-zero), replaces all its addresses with `want.IPAddresses` and brings it up.
/// Returns the interface as it now is.
Result<types::Interface> updateInterface(const types::Interface& want);

/// Every link with its addresses.
Result<std::vector<types::Interface>> listInterfaces();

/// Routes of the main table (IPv4, and IPv6 except link-local/multicast ones). A default
/// route has dest "" (the request side also takes "default").
Result<std::vector<types::Route>> listRoutes();

/// Replaces the main table's routes with `routes`: link-scope routes first, then gateway
/// routes (the default route included). Routes are checked before any is removed; the
/// kernel's prefix routes of the interface addresses are kept.
Status updateRoutes(const std::vector<types::Route>& routes);

/// Adds (or replaces) static neighbour entries; state 0 means NUD_PERMANENT.
Status addArpNeighbors(const std::vector<types::ARPNeighbor>& neighbors);

/// Counters of every link but the loopback.
std::vector<grpc::NetworkStats> networkStats();

// Pure parts of the above, fuzzed with arbitrary rtnetlink messages and requests
// (tests/fuzz/netlink_fuzz.cc). The caches hold what the kernel sent (RTM_NEWLINK,
// RTM_NEWADDR, RTM_NEWROUTE).

/// ListInterfaces' answer for these links and addresses.
std::vector<types::Interface> interfacesFrom(nl_cache* links, nl_cache* addrs);
/// ListRoutes' answer for these routes (device names from `links`).
std::vector<types::Route> routesFrom(nl_cache* routes, nl_cache* links);
/// The checks updateInterface makes before changing anything.
Status checkInterface(const types::Interface& want);
/// The checks updateRoutes makes on one route before changing anything.
Status checkRoute(nl_cache* links, const types::Route& route);

/// True when the agent runs in the kernel's initial network namespace or in PID 1's (on a host
/// in test mode that is the host's network, which the agent must not change).
bool inInitialNetworkNamespace();

}  // namespace kata::agent::net
