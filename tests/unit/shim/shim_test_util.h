// Plumbing shared by the shim's unit tests: a fake agent on a unix socket in a temporary
// directory, and a byte-pumping stand-in for kata-proxy.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lib/temp_dir.h"
#include "lib/unique_fd.h"
#include "shim/agent_connection.h"
#include "shim/agent_url.h"
#include "tests/unit/shim/fake_agent.h"
#include "tests/unit/shim/pipe_util.h"

namespace kata::shim::testing {

/// A temporary directory with a fake agent listening on <dir>/agent.sock.
struct FakeAgentFixture {
  TempDir dir;
  std::string socketPath;
  std::shared_ptr<FakeAgentState> state = std::make_shared<FakeAgentState>();
  std::unique_ptr<FakeAgentServer> server;
  std::atomic<int> dials{0};

  bool start() {
    ::signal(SIGPIPE, SIG_IGN);  // tests close pipe readers under the relay's feet
    auto d = TempDir::create("kata-shim-test-");
    if (!d) return false;
    dir = std::move(*d);
    socketPath = dir.path() + "/agent.sock";
    return restartServer();
  }
  bool restartServer() {
    server = std::make_unique<FakeAgentServer>(state, socketPath);
    return server->ok();
  }
  Dialer dialer() {
    return [this]() -> Result<UniqueFd> {
      ++dials;
      KATA_ASSIGN_OR_RETURN(AgentUrl url, parseAgentUrl("unix://" + socketPath));
      return dialAgent(url);
    };
  }
};

/// A byte-pumping stand-in for kata-proxy: every connection accepted on `listenPath` is joined
/// to a new connection to `targetPath`. stop() drops them all at once, as a dying proxy would.
class ByteProxy {
 public:
  ByteProxy(std::string listenPath, std::string targetPath)
      : target_(std::move(targetPath)),
        listener_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    listenPath.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    ::unlink(listenPath.c_str());
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    stopR_.reset(p[0]);
    stopW_.reset(p[1]);
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_.get(), 16) != 0) {
      return;
    }
    ok_ = true;
    thread_ = std::thread([this] { loop(); });
  }
  ~ByteProxy() { stop(); }
  bool ok() const { return ok_; }
  int accepted() const { return accepted_; }
  void stop() {
    if (thread_.joinable()) {
      (void)!::write(stopW_.get(), "x", 1);
      thread_.join();
    }
    pairs_.clear();
    listener_.reset();
  }

 private:
  struct Pair {
    UniqueFd a, b;
  };
  void loop() {
    char buf[65536];
    for (;;) {
      std::vector<pollfd> fds = {{stopR_.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
      for (auto& p : pairs_) {
        fds.push_back({p.a.get(), POLLIN, 0});
        fds.push_back({p.b.get(), POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents != 0) return;
      if (fds[1].revents != 0) {
        UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        auto url = parseAgentUrl("unix://" + target_);
        auto upstream = url.ok() ? dialAgent(*url) : Result<UniqueFd>(url.error());
        if (client && upstream.ok()) {
          pairs_.push_back({std::move(client), std::move(*upstream)});
          ++accepted_;
        }
        continue;  // fds no longer matches pairs_
      }
      std::vector<bool> dead(pairs_.size(), false);
      for (size_t i = 0; i < pairs_.size(); ++i) {
        for (int side = 0; side < 2 && !dead[i]; ++side) {
          if (fds[2 + 2 * i + side].revents == 0) continue;
          int from = side == 0 ? pairs_[i].a.get() : pairs_[i].b.get();
          int to = side == 0 ? pairs_[i].b.get() : pairs_[i].a.get();
          ssize_t n = ::read(from, buf, sizeof buf);
          if (n <= 0) {
            dead[i] = true;  // one side went away: drop the whole connection
            continue;
          }
          for (ssize_t off = 0; off < n;) {
            ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
            if (w <= 0) break;
            off += w;
          }
        }
      }
      for (size_t i = pairs_.size(); i-- > 0;) {
        if (dead[i]) pairs_.erase(pairs_.begin() + static_cast<long>(i));
      }
    }
  }

  std::string target_;
  UniqueFd listener_, stopR_, stopW_;
  bool ok_ = false;
  std::atomic<int> accepted_{0};
  std::vector<Pair> pairs_;
  std::thread thread_;
};

}  // namespace kata::shim::testing
