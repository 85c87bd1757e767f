// The forwarder's iptables rule (the rest needs a network namespace: the component test
// tests/component/proxy/port_forward_component_test.cc).
#include "proxy/port_forwarder.h"

#include <string>
#include <vector>

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

TEST_GROUP(PortForwarderRule){};

TEST(PortForwarderRule, RedirectsOnlyTcpToIpv4LoopbackToTheForwarder) {
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (auto& a : v) s += (s.empty() ? "" : " ") + a;
    return s;
  };
  STRCMP_EQUAL("-w -t nat -A OUTPUT -p tcp -d 127.0.0.1/32 -j REDIRECT --to-ports 40123",
               join(kata::proxy::redirectRuleArgs("-A", 40123)).c_str());
  // Deletion names the same rule.
  STRCMP_EQUAL("-w -t nat -D OUTPUT -p tcp -d 127.0.0.1/32 -j REDIRECT --to-ports 1",
               join(kata::proxy::redirectRuleArgs("-D", 1)).c_str());
}
