// kata-agent network RPCs on the host: the agent runs in a scratch network namespace (ip netns)
// holding a veth pair, so nothing of the host's network is touched; effects are checked with
// `ip -n <ns>`.
#include <unistd.h>

#include <string>
#include <vector>

#include "agent_harness.h"
#include "lib/child_process.h"

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using kata::agenttest::AgentHarness;
using kata::agenttest::deadlineContext;

namespace {

std::string codeText(const ::grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

std::string runIp(const std::vector<std::string>& argv) {
  auto out = kata::runCommand(argv, 10);
  return out.ok() ? *out : "<failed: " + out.error().str() + ">";
}

constexpr const char* kMac = "02:42:ac:11:00:07";

types::IPAddress* addIp(types::Interface* i, const std::string& addr, const std::string& mask,
                        bool v6 = false) {
  auto* ip = i->add_ipaddresses();
  ip->set_address(addr);
  ip->set_mask(mask);
  ip->set_family(v6 ? types::v6 : types::v4);
  return ip;
}

types::Route* addRoute(::grpc::Routes* rs, const std::string& dest, const std::string& gw,
                       const std::string& dev) {
  auto* r = rs->add_routes();
  r->set_dest(dest);
  r->set_gateway(gw);
  r->set_device(dev);
  return r;
}

}  // namespace

TEST_GROUP(AgentNetwork) {
  AgentHarness h;
  std::string ns;

  void setup() override {
    ns = "kata-agent-test-" + std::to_string(::getpid());
    (void)kata::runCommand({"ip", "netns", "del", ns}, 10);
    auto s = kata::runCommand({"ip", "netns", "add", ns}, 10);
    CHECK_TEXT(s.ok(), s.ok() ? "" : s.error().str().c_str());
    CHECK(kata::runCommand({"ip", "-n", ns, "link", "add", "veth0", "address", kMac, "type", "veth",
                            "peer", "name", "veth1"},
                           10)
              .ok());
    CHECK(kata::runCommand({"ip", "-n", ns, "link", "set", "veth1", "up"}, 10).ok());
    h.startAgent("/run/netns/" + ns, {});
  }
  void teardown() override {
    h.stop();
    (void)kata::runCommand({"ip", "netns", "del", ns}, 10);
  }

  ::grpc::Status updateInterface(const types::Interface& i, types::Interface* out) {
    ::grpc::UpdateInterfaceRequest req;
    *req.mutable_interface() = i;
    auto ctx = deadlineContext(10000);
    return h.agent().UpdateInterface(ctx.get(), req, out);
  }

  ::grpc::Status updateRoutes(const ::grpc::Routes& rs, ::grpc::Routes* out) {
    ::grpc::UpdateRoutesRequest req;
    *req.mutable_routes() = rs;
    auto ctx = deadlineContext(10000);
    return h.agent().UpdateRoutes(ctx.get(), req, out);
  }

  /// eth0 with 10.1.2.3/24 and fd00::3/64, MTU 1400, up.
  void configureEth0() {
    types::Interface want;
    want.set_hwaddr(kMac);
    want.set_name("eth0");
    want.set_mtu(1400);
    addIp(&want, "10.1.2.3", "24");
    addIp(&want, "fd00::3", "64", true);
    types::Interface got;
    auto s = updateInterface(want, &got);
    CHECK_TEXT(s.ok(), (codeText(s) + "\n" + h.agentLog()).c_str());
  }
};

TEST(AgentNetwork, UpdateInterfaceRenamesSetsMtuAddressesAndUp) {
  // An address that is not asked for must go.
  CHECK(kata::runCommand({"ip", "-n", ns, "addr", "add", "192.168.77.7/24", "dev", "veth0"}, 10)
            .ok());
  types::Interface want;
  want.set_hwaddr(kMac);
  want.set_name("eth0");
  want.set_mtu(1400);
  addIp(&want, "10.1.2.3", "24");
  addIp(&want, "fd00::3", "64", true);
  types::Interface got;
  auto s = updateInterface(want, &got);
  CHECK_TEXT(s.ok(), (codeText(s) + "\n" + h.agentLog()).c_str());
  STRCMP_EQUAL("eth0", got.name().c_str());
  CHECK_EQUAL(1400u, got.mtu());
  STRCMP_EQUAL(kMac, got.hwaddr().c_str());

  std::string link = runIp({"ip", "-n", ns, "-o", "link", "show", "eth0"});
  CHECK_TEXT(link.find("mtu 1400") != std::string::npos, link.c_str());
  CHECK_TEXT(link.find(",UP") != std::string::npos || link.find("<UP") != std::string::npos,
             link.c_str());
  std::string addrs = runIp({"ip", "-n", ns, "-o", "addr", "show", "dev", "eth0"});
  CHECK_TEXT(addrs.find("inet 10.1.2.3/24") != std::string::npos, addrs.c_str());
  CHECK_TEXT(addrs.find("inet6 fd00::3/64") != std::string::npos, addrs.c_str());
  CHECK_TEXT(addrs.find("192.168.77.7") == std::string::npos, addrs.c_str());

  // ListInterfaces reports the same.
  ::grpc::ListInterfacesRequest lr;
  ::grpc::Interfaces list;
  auto ctx = deadlineContext(10000);
  s = h.agent().ListInterfaces(ctx.get(), lr, &list);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  bool found = false;
  for (const auto& i : list.interfaces()) {
    if (i.name() != "eth0") continue;
    found = true;
    CHECK_EQUAL(1400u, i.mtu());
    STRCMP_EQUAL(kMac, i.hwaddr().c_str());
    STRCMP_EQUAL("veth", i.type().c_str());
    bool v4 = false;
    for (const auto& ip : i.ipaddresses()) {
      if (ip.address() == "10.1.2.3" && ip.mask() == "24" && ip.family() == types::v4) v4 = true;
    }
    CHECK(v4);
  }
  CHECK(found);
  // The host was not touched.
  CHECK(runIp({"ip", "-o", "link", "show"}).find(kMac) == std::string::npos);
}

TEST(AgentNetwork, UpdateRoutesReplacesTheTableAndListRoutesShowsIt) {
  configureEth0();
  ::grpc::Routes rs;
  addRoute(&rs, "", "10.1.2.1", "eth0");  // default route, given before its link route
  addRoute(&rs, "192.168.50.0/24", "10.1.2.254", "eth0");
  auto* link = addRoute(&rs, "10.1.2.0/24", "", "eth0");
  link->set_source("10.1.2.3");
  link->set_scope(253);
  ::grpc::Routes out;
  auto s = updateRoutes(rs, &out);
  CHECK_TEXT(s.ok(), (codeText(s) + "\n" + h.agentLog()).c_str());
  std::string table = runIp({"ip", "-n", ns, "route", "show"});
  CHECK_TEXT(table.find("default via 10.1.2.1 dev eth0") != std::string::npos, table.c_str());
  CHECK_TEXT(table.find("192.168.50.0/24 via 10.1.2.254 dev eth0") != std::string::npos,
             table.c_str());
  CHECK_TEXT(table.find("10.1.2.0/24 dev eth0") != std::string::npos, table.c_str());
  bool sawDefault = false;
  for (const auto& r : out.routes()) {
    if (r.dest().empty() && r.gateway() == "10.1.2.1" && r.device() == "eth0") sawDefault = true;
  }
  CHECK(sawDefault);

  // Replacing: the 192.168.50.0/24 route disappears, an IPv6 default route appears.
  ::grpc::Routes second;
  addRoute(&second, "default", "10.1.2.1", "eth0");
  addRoute(&second, "10.1.2.0/24", "", "eth0");
  addRoute(&second, "", "fd00::1", "eth0");
  s = updateRoutes(second, &out);
  CHECK_TEXT(s.ok(), (codeText(s) + "\n" + h.agentLog()).c_str());
  table = runIp({"ip", "-n", ns, "route", "show"});
  CHECK_TEXT(table.find("192.168.50.0") == std::string::npos, table.c_str());
  CHECK_TEXT(table.find("default via 10.1.2.1") != std::string::npos, table.c_str());
  std::string table6 = runIp({"ip", "-n", ns, "-6", "route", "show"});
  CHECK_TEXT(table6.find("default via fd00::1 dev eth0") != std::string::npos, table6.c_str());

  ::grpc::ListRoutesRequest lr;
  ::grpc::Routes listed;
  auto ctx = deadlineContext(10000);
  s = h.agent().ListRoutes(ctx.get(), lr, &listed);
  CHECK_TEXT(s.ok(), codeText(s).c_str());
  int defaults = 0;
  for (const auto& r : listed.routes()) {
    if (r.dest().empty()) ++defaults;
  }
  CHECK_EQUAL(2, defaults);  // v4 and v6

  // A bad route in the list changes nothing.
  ::grpc::Routes bad;
  addRoute(&bad, "10.9.0.0/16", "", "eth0");
  addRoute(&bad, "10.8.0.0/33", "", "eth0");
  s = updateRoutes(bad, &out);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, s.error_code());
  std::string after = runIp({"ip", "-n", ns, "route", "show"});
  STRCMP_EQUAL(table.c_str(), after.c_str());
  ::grpc::Routes noDev;
  addRoute(&noDev, "10.9.0.0/16", "", "nosuch0");
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, updateRoutes(noDev, &out).error_code());
  ::grpc::Routes badGw;
  addRoute(&badGw, "10.9.0.0/16", "10.1.2.300", "eth0");
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, updateRoutes(badGw, &out).error_code());
  ::grpc::Routes mixed;
  addRoute(&mixed, "10.9.0.0/16", "fd00::1", "eth0");
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, updateRoutes(mixed, &out).error_code());
}

TEST(AgentNetwork, AddARPNeighborsAddsPermanentEntries) {
  configureEth0();
  ::grpc::AddARPNeighborsRequest req;
  auto* n = req.mutable_neighbors()->add_arpneighbors();
  n->mutable_toipaddress()->set_address("10.1.2.9");
  n->set_device("eth0");
  n->set_lladdr("02:aa:bb:cc:dd:ee");
  ::google::protobuf::Empty e;
  auto ctx = deadlineContext(10000);
  auto s = h.agent().AddARPNeighbors(ctx.get(), req, &e);
  CHECK_TEXT(s.ok(), (codeText(s) + "\n" + h.agentLog()).c_str());
  std::string neigh = runIp({"ip", "-n", ns, "neigh", "show", "dev", "eth0"});
  CHECK_TEXT(neigh.find("10.1.2.9 lladdr 02:aa:bb:cc:dd:ee PERMANENT") != std::string::npos,
             neigh.c_str());

  n->set_lladdr("02:aa:bb:cc:dd");
  auto ctx2 = deadlineContext(10000);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT,
              h.agent().AddARPNeighbors(ctx2.get(), req, &e).error_code());
  n->set_lladdr("02:aa:bb:cc:dd:ef");
  n->mutable_toipaddress()->set_address("not-an-ip");
  auto ctx3 = deadlineContext(10000);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT,
              h.agent().AddARPNeighbors(ctx3.get(), req, &e).error_code());
  n->mutable_toipaddress()->set_address("10.1.2.10");
  n->set_device("nosuch0");
  auto ctx4 = deadlineContext(10000);
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND,
              h.agent().AddARPNeighbors(ctx4.get(), req, &e).error_code());
}

TEST(AgentNetwork, UpdateInterfaceBadInput) {
  types::Interface got;
  types::Interface want;
  want.set_hwaddr("02:00:00:00:00:99");  // no such link
  auto s = updateInterface(want, &got);
  CHECK_EQUAL(::grpc::StatusCode::NOT_FOUND, s.error_code());
  CHECK_TEXT(s.error_message().find("02:00:00:00:00:99") != std::string::npos,
             s.error_message().c_str());
  want.set_hwaddr("zz:00:00:00:00:99");
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, updateInterface(want, &got).error_code());
  want.set_hwaddr("");
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, updateInterface(want, &got).error_code());
  want.set_hwaddr(kMac);
  want.set_name("a/b");
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, updateInterface(want, &got).error_code());
  want.set_name("averyveryverylongname");
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, updateInterface(want, &got).error_code());
  want.set_name("eth0");
  want.set_mtu(10);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, updateInterface(want, &got).error_code());
  want.set_mtu(1500);
  addIp(&want, "10.1.2.3", "33");
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, updateInterface(want, &got).error_code());
  want.clear_ipaddresses();
  addIp(&want, "10.1.2.3", "24", true);  // family says v6
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT, updateInterface(want, &got).error_code());
  want.clear_ipaddresses();
  want.set_name("veth1");  // taken by the peer
  CHECK_EQUAL(::grpc::StatusCode::ALREADY_EXISTS, updateInterface(want, &got).error_code());
  ::grpc::UpdateInterfaceRequest empty;
  auto ctx = deadlineContext(10000);
  CHECK_EQUAL(::grpc::StatusCode::INVALID_ARGUMENT,
              h.agent().UpdateInterface(ctx.get(), empty, &got).error_code());
  // Nothing was changed by the refused requests.
  std::string link = runIp({"ip", "-n", ns, "-o", "link", "show", "veth0"});
  CHECK_TEXT(link.find("mtu 1500") != std::string::npos, link.c_str());
}

TEST_GROUP(AgentNetworkHostMode) {
  AgentHarness h;
  void setup() override { h.start(); }
  void teardown() override { h.stop(); }
};

TEST(AgentNetworkHostMode, ChangesAreRefusedInTheHostNamespace) {
  ::grpc::UpdateRoutesRequest req;
  ::grpc::Routes out;
  auto ctx = deadlineContext(10000);
  auto s = h.agent().UpdateRoutes(ctx.get(), req, &out);
  CHECK_EQUAL(::grpc::StatusCode::FAILED_PRECONDITION, s.error_code());
  CHECK_TEXT(s.error_message().find("host") != std::string::npos, s.error_message().c_str());
  ::grpc::UpdateInterfaceRequest ui;
  ui.mutable_interface()->set_hwaddr(kMac);
  types::Interface got;
  auto ctx2 = deadlineContext(10000);
  CHECK_EQUAL(::grpc::StatusCode::FAILED_PRECONDITION,
              h.agent().UpdateInterface(ctx2.get(), ui, &got).error_code());
  ::grpc::AddARPNeighborsRequest an;
  ::google::protobuf::Empty e;
  auto ctx3 = deadlineContext(10000);
  CHECK_EQUAL(::grpc::StatusCode::FAILED_PRECONDITION,
              h.agent().AddARPNeighbors(ctx3.get(), an, &e).error_code());
  // Reading is harmless and allowed.
  ::grpc::ListRoutesRequest lr;
  auto ctx4 = deadlineContext(10000);
  CHECK(h.agent().ListRoutes(ctx4.get(), lr, &out).ok());
}
