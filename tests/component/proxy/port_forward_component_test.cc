// CRI port-forward without a VM: the agent's kata.ForwardService (agent/forward_service.h)
// served on a unix socket, and the host's forwarder (proxy/port_forwarder.h) in a network
// namespace of the test's own (pf-ct-<pid>). The "guest" is the test's own root namespace: a
// TCP server there on 127.0.0.1. A client in the namespace dials 127.0.0.1:<that port>, as
// containerd does, and must reach it. Needs root and iptables (fails, saying so, without).
#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "agent/forward_service.h"
#include "agent/health_service.h"
#include "lib/child_process.h"
#include "lib/fs_util.h"
#include "lib/temp_dir.h"
#include "lib/unique_fd.h"
#include "proxy/port_forwarder.h"

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using namespace kata;

namespace {

const std::string kNetnsName = "pf-ct-" + std::to_string(::getpid());
const std::string kNetnsPath = "/run/netns/" + kNetnsName;

// A server on 127.0.0.1 (an ephemeral port) in the calling thread's namespace: answers each
// connection with "echo:" + everything it read until the client's half-close.
class EchoServer {
 public:
  explicit EchoServer(bool ipv6 = false) {
    fd_.reset(::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    sockaddr_in6 a6{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_loopback;
    sockaddr* sa = ipv6 ? reinterpret_cast<sockaddr*>(&a6) : reinterpret_cast<sockaddr*>(&a);
    socklen_t len = ipv6 ? sizeof a6 : sizeof a;
    CHECK_EQUAL(0, ::bind(fd_.get(), sa, len));
    CHECK_EQUAL(0, ::listen(fd_.get(), 8));
    ::getsockname(fd_.get(), sa, &len);
    port_ = ntohs(ipv6 ? a6.sin6_port : a.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c || stop_) return;
        std::string got, buf(65536, '\0');
        ssize_t n;
        while ((n = ::read(c.get(), buf.data(), buf.size())) > 0) got.append(buf.data(), n);
        (void)writeAll(c.get(), "echo:" + got);
      }
    });
  }
  ~EchoServer() {
    stop_ = true;
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  UniqueFd fd_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Sends `data` to 127.0.0.1:port from a thread in the test's namespace, half-closes, and
// returns what came back until EOF ("connect failed: ..." when the dial fails).
std::string exchange(uint16_t port, const std::string& data) {
  std::string result;
  std::thread t([&] {
    UniqueFd ns(::open(kNetnsPath.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) {
      result = "setns failed";
      return;
    }
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      result = std::string("connect failed: ") + strerror(errno);
      return;
    }
    (void)writeAll(fd.get(), data);
    ::shutdown(fd.get(), SHUT_WR);
    std::string buf(65536, '\0');
    ssize_t n;
    while ((n = ::read(fd.get(), buf.data(), buf.size())) > 0) result.append(buf.data(), n);
  });
  t.join();
  return result;
}

// A port nothing listens on (in the calling thread's namespace, the "guest").
uint16_t freePort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), len);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

std::string natRules() {
  auto out =
      runCommand({"ip", "netns", "exec", kNetnsName, "iptables", "-t", "nat", "-S", "OUTPUT"}, 10);
  return out.ok() ? *out : "iptables failed: " + out.error().str();
}

}  // namespace

TEST_GROUP(PortForward) {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<::grpc::Server> server;
  agent::ForwardService forwardService;
  agent::HealthService health;
  std::string socket;

  void setup() override {
    CHECK_TEXT(::geteuid() == 0, "needs root (network namespace, iptables)");
    CHECK_TEXT(::access("/usr/sbin/iptables", X_OK) == 0, "needs /usr/sbin/iptables");
    auto added = runCommand({"ip", "netns", "add", kNetnsName}, 10);
    CHECK_TEXT(added.ok(), added.ok() ? "" : added.error().str().c_str());
    CHECK(runCommand({"ip", "-n", kNetnsName, "link", "set", "lo", "up"}, 10).ok());
    auto d = TempDir::create("pf-ct");
    CHECK(d.ok());
    dir = std::make_unique<TempDir>(std::move(*d));
    socket = dir->path() + "/agent.sock";
  }
  void teardown() override {
    if (server) server->Shutdown(std::chrono::system_clock::now());
    server.reset();
    dir.reset();
    (void)runCommand({"ip", "netns", "del", kNetnsName}, 10);
  }
  void serve(bool withForward) {
    ::grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + socket, ::grpc::InsecureServerCredentials());
    b.RegisterService(&health);  // upstream's agent serves this (and AgentService), not ours
    if (withForward) b.RegisterService(&forwardService);
    server = b.BuildAndStart();
    CHECK(server != nullptr);
  }
};

TEST(PortForward, AnyPortReachesTheGuestLoopbackBothWaysAndTheRuleGoesWithStop) {
  serve(true);
  EchoServer guest;
  auto f = proxy::PortForwarder::start({kNetnsPath, socket, "pf-ct"});
  CHECK_TEXT(f.ok(), f.ok() ? "" : f.error().str().c_str());
  const std::string rule = "--to-ports " + std::to_string((*f)->port());
  CHECK(natRules().find(rule) != std::string::npos);

  STRCMP_EQUAL("echo:hello", exchange(guest.port(), "hello").c_str());
  // More than the flow-control windows and chunks, both ways.
  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = char('a' + i % 26);
  CHECK(exchange(guest.port(), big) == "echo:" + big);
  // A guest server on ::1 only: reached as containerd reaches a runc pod's (tcp4, then tcp6).
  EchoServer guest6(true);
  STRCMP_EQUAL("echo:six", exchange(guest6.port(), "six").c_str());
  // Nothing listens on the guest's port: the host connection is accepted, then closed empty.
  STRCMP_EQUAL("", exchange(freePort(), "x").c_str());

  (*f)->stop();
  CHECK(natRules().find(rule) == std::string::npos);
  CHECK_EQUAL(0, forwardService.active());
}

TEST(PortForward, AnAgentWithoutTheServiceClosesTheConnection) {
  serve(false);  // an upstream agent: ForwardService is UNIMPLEMENTED
  EchoServer guest;
  auto f = proxy::PortForwarder::start({kNetnsPath, socket, "pf-ct"});
  CHECK(f.ok());
  STRCMP_EQUAL("", exchange(guest.port(), "hello").c_str());
}

TEST(PortForward, TheHostNamespaceIsRefused) {
  auto f = proxy::PortForwarder::start({"/proc/1/ns/net", socket, "pf-ct"});
  CHECK_FALSE(f.ok());
  if (f.error().code == EACCES) {
    // In a container whose init is not ours, /proc/1/ns/net is unreadable: still refused.
    std::printf("(/proc/1/ns/net is not readable here: the host check itself is not run)\n");
  } else {
    STRCMP_CONTAINS("is the host's", f.error().str().c_str());
  }
  auto g = proxy::PortForwarder::start({"/nonexistent/pf-ns", socket, "pf-ct"});
  CHECK_FALSE(g.ok());
}
