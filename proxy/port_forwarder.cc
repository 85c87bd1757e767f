#include "proxy/port_forwarder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "lib/child_process.h"
#include "lib/fs_util.h"
#include "lib/log.h"
#include "protocols/agent_wire.h"
#include "protocols/forward.grpc.pb.h"
#include "proxy/dns_relay.h"

namespace kata::proxy {

namespace {

// Where iptables is looked for: PATH first, then Debian's place (a daemon's PATH may lack sbin).
std::string iptablesProgram() {
  for (const char* p : {"/usr/sbin/iptables", "/sbin/iptables"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "iptables";
}

Result<uint16_t> originalPort(int fd) {
  sockaddr_in dst{};
  socklen_t len = sizeof dst;
  if (::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) != 0)
    return sysError("read the original destination (SO_ORIGINAL_DST)");
  return ntohs(dst.sin_port);
}

}  // namespace

struct PortForwarder::Connection {
  UniqueFd fd;
  ::grpc::ClientContext context;
  std::thread thread;
  std::atomic<bool> done{false};
};

std::vector<std::string> redirectRuleArgs(const std::string& op, uint16_t port) {
  return {"-w",
          "-t",
          "nat",
          op,
          "OUTPUT",
          "-p",
          "tcp",
          "-d",
          "127.0.0.1/32",
          "-j",
          "REDIRECT",
          "--to-ports",
          std::to_string(port)};
}

Result<std::unique_ptr<PortForwarder>> PortForwarder::start(PortForwarderOptions options) {
  std::unique_ptr<PortForwarder> f(new PortForwarder(std::move(options)));
  KATA_ASSIGN_OR_RETURN(f->netns_, openSandboxNetns(f->options_.netns, "port-forward"));
  f->stopFd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!f->stopFd_) return sysError("eventfd");
  ::grpc::ChannelArguments args;
  // The guest's messages are at most kForwardChunk; anything bigger ends the call.
  args.SetMaxReceiveMessageSize(int(wire::kForwardMaxMessage));
  // Made here, not on the forwarder's thread: the channel's own threads then stay in the
  // caller's namespace (the agent socket is a path and works from any).
  f->channel_ = ::grpc::CreateCustomChannel("unix:" + f->options_.agentSocket,
                                            ::grpc::InsecureChannelCredentials(), args);
  std::promise<Status> ready;
  auto readyFuture = ready.get_future();
  f->thread_ = std::thread([p = f.get(), &ready] {
    Status st = p->setUp();
    bool ok = st.ok();
    if (!ok) p->tearDown();
    ready.set_value(std::move(st));
    if (ok) p->serve();
  });
  Status st = readyFuture.get();
  if (!st.ok()) {
    f->thread_.join();
    return st.error();
  }
  log::info("port-forward into the guest ready",
            {{"netns", f->options_.netns}, {"port", std::to_string(f->port_)}});
  return f;
}

PortForwarder::PortForwarder(PortForwarderOptions options) : options_(std::move(options)) {}

PortForwarder::~PortForwarder() { stop(); }

void PortForwarder::stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)!::write(stopFd_.get(), &one, sizeof one);
  thread_.join();
}

Status PortForwarder::setUp() {
  // Privileged: this thread alone moves into the sandbox's namespace (setns affects only the
  // calling thread), so that the listening socket and the iptables rule are made there.
  if (::setns(netns_.get(), CLONE_NEWNET) != 0)
    return sysError("enter network namespace " + options_.netns);
  listenFd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listenFd_) return sysError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listenFd_.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0)
    return sysError("bind 127.0.0.1 in " + options_.netns);
  if (::listen(listenFd_.get(), 64) != 0) return sysError("listen");
  if (::getsockname(listenFd_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return sysError("getsockname");
  port_ = ntohs(addr.sin_port);
  KATA_TRY(runIptables("-A"));
  ruleAdded_ = true;
  return okStatus();
}

Status PortForwarder::runIptables(const std::string& op) {
  std::vector<std::string> argv = {iptablesProgram()};
  for (auto& a : redirectRuleArgs(op, port_)) argv.push_back(a);
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0) return sysError("pipe");
  UniqueFd errRead(pipeFds[0]), errWrite(pipeFds[1]);
  SpawnOptions so;
  so.argv = argv;
  so.stderrFd = errWrite.get();
  so.netnsFd = netns_.get();  // the rule belongs to the sandbox's namespace
  auto child = ChildProcess::spawn(so);
  errWrite.reset();
  if (!child.ok())
    return makeError("port-forward needs iptables: " + child.error().str(), child.error().code);
  char buf[512];
  ssize_t n = ::read(errRead.get(), buf, sizeof buf - 1);
  std::string err = n > 0 ? std::string(buf, size_t(n)) : "";
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  KATA_ASSIGN_OR_RETURN(int code, child->wait());
  if (code != 0) {
    std::string cmd;
    for (auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return makeError(cmd + " in " + options_.netns + " exited " + std::to_string(code) + ": " +
                     err);
  }
  return okStatus();
}

void PortForwarder::serve() {
  for (;;) {
    pollfd fds[2] = {{listenFd_.get(), POLLIN, 0}, {stopFd_.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, 1000);
    if (n < 0 && errno != EINTR) {
      log::warn("port-forward stopped", {{"error", sysError("poll").str()}});
      break;
    }
    if (fds[1].revents) break;
    reapFinished(false);
    if (n <= 0 || !fds[0].revents) continue;
    UniqueFd fd(::accept4(listenFd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (connections_.size() >= kMaxConnections) {
      log::warn("port-forward connection refused: too many open",
                {{"limit", std::to_string(kMaxConnections)}});
      continue;
    }
    auto c = std::make_unique<Connection>();
    c->fd = std::move(fd);
    Connection* raw = c.get();
    connections_.push_back(std::move(c));
    raw->thread = std::thread([this, raw] {
      forward(*raw);
      raw->done = true;
    });
  }
  tearDown();
}

void PortForwarder::tearDown() {
  if (ruleAdded_) {
    if (auto st = runIptables("-D"); !st.ok())
      log::warn("port-forward rule not removed", {{"error", st.error().str()}});
    ruleAdded_ = false;
  }
  listenFd_.reset();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : connections_) {
      c->context.TryCancel();
      ::shutdown(c->fd.get(), SHUT_RDWR);
    }
  }
  reapFinished(true);
}

void PortForwarder::reapFinished(bool all) {
  std::list<std::unique_ptr<Connection>> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (all || (*it)->done) {
        finished.push_back(std::move(*it));
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) c->thread.join();
}

void PortForwarder::forward(Connection& c) {
  const int fd = c.fd.get();
  auto port = originalPort(fd);
  if (!port.ok()) {
    log::warn("port-forward connection dropped", {{"error", port.error().str()}});
    return;
  }
  const std::string portText = std::to_string(*port);
  ::kata::ForwardService::Stub stub(channel_);
  auto call = stub.Connect(&c.context);
  ::kata::ForwardData first;
  first.set_port(*port);
  // Host -> guest on a thread of its own; its end (EOF: WritesDone) half-closes the guest side.
  std::thread up;
  if (call->Write(first)) {
    up = std::thread([fd, &c, stream = call.get()] {
      std::string buf(wire::kForwardChunk, '\0');
      ::kata::ForwardData out;
      for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) {
          (void)stream->WritesDone();
          return;
        }
        if (n < 0) {
          c.context.TryCancel();
          return;
        }
        out.set_data(buf.data(), size_t(n));
        if (!stream->Write(out)) return;
      }
    });
  }
  // Guest -> host: one message at a time, written out before the next is read.
  ::kata::ForwardData in;
  while (call->Read(&in)) {
    if (!in.data().empty() && !writeAll(fd, in.data()).ok()) {
      c.context.TryCancel();
      break;
    }
    if (in.eof()) ::shutdown(fd, SHUT_WR);
  }
  ::shutdown(fd, SHUT_RDWR);  // wakes `up` when the call ended first
  if (up.joinable()) up.join();
  ::grpc::Status status = call->Finish();
  if (status.error_code() == ::grpc::StatusCode::UNIMPLEMENTED) {
    if (!unimplementedLogged_.exchange(true))
      log::warn(
          "port-forward into the guest is not available: the agent has no "
          "kata.ForwardService (an upstream kata-agent?)",
          {{"sandbox", options_.sandbox}});
  } else if (!status.ok() && status.error_code() != ::grpc::StatusCode::CANCELLED) {
    log::info("port-forward connection failed",
              {{"port", portText}, {"error", status.error_message()}});
  } else {
    log::debug("port-forward connection ended", {{"port", portText}});
  }
}

}  // namespace kata::proxy
