#include "agent/forward_service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/unique_fd.h"
#include "protocols/agent_wire.h"

namespace kata::agent {

namespace {

// The guest's own loopback: the agent runs in the VM's network namespace, which is the pod's.
// 127.0.0.1 first, then ::1 when nothing listens there: containerd's own order (tcp4, then
// tcp6) for a runc pod.
Result<UniqueFd> connectLoopback(uint32_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return sysError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  Error v4 = sysError("connect to 127.0.0.1:" + std::to_string(port) + " in the guest");
  UniqueFd fd6(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd6) return v4;
  sockaddr_in6 addr6{};
  addr6.sin6_family = AF_INET6;
  addr6.sin6_port = htons(uint16_t(port));
  addr6.sin6_addr = in6addr_loopback;
  if (::connect(fd6.get(), reinterpret_cast<sockaddr*>(&addr6), sizeof addr6) == 0) return fd6;
  return makeError(v4.str() + "; [::1]: " + std::strerror(errno), v4.code);
}

}  // namespace

::grpc::Status ForwardService::Connect(
    ::grpc::ServerContext* context,
    ::grpc::ServerReaderWriter<::kata::ForwardData, ::kata::ForwardData>* stream) {
  ::kata::ForwardData first;
  if (!stream->Read(&first)) return {::grpc::StatusCode::CANCELLED, "no port sent"};
  if (first.port() == 0 || first.port() > 65535)
    return {::grpc::StatusCode::INVALID_ARGUMENT,
            "port " + std::to_string(first.port()) + " out of range 1..65535"};
  if (++active_ > kForwardMaxConnections) {
    --active_;
    return {::grpc::StatusCode::RESOURCE_EXHAUSTED,
            "more than " + std::to_string(kForwardMaxConnections) + " forwarded connections"};
  }
  struct Release {
    std::atomic<int>& n;
    ~Release() { --n; }
  } release{active_};

  auto sock = connectLoopback(first.port());
  if (!sock.ok()) return {::grpc::StatusCode::UNAVAILABLE, sock.error().str()};
  const int fd = sock->get();
  log::debug("forwarding a host connection", {{"port", std::to_string(first.port())}});

  // Guest -> host. Ends at the guest's EOF (announced with `eof`) or when the call is gone
  // (checked each second while the guest is silent: a cancelled call does not wake a read).
  std::thread pump([fd, stream, context] {
    std::string buf(wire::kForwardChunk, '\0');
    ::kata::ForwardData out;
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      int ready = ::poll(&p, 1, 1000);
      if (ready < 0 && errno != EINTR) return;
      if (ready <= 0) {
        if (context->IsCancelled()) return;
        continue;
      }
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        out.Clear();
        out.set_eof(true);
        (void)stream->Write(out);
        return;
      }
      out.set_data(buf.data(), size_t(n));
      if (!stream->Write(out)) return;
    }
  });

  // Host -> guest, until the host's WritesDone (half-close the guest side and let the guest
  // finish answering) or the call is cancelled (drop the connection, which wakes the pump).
  ::kata::ForwardData in = std::move(first);
  bool broken = false;
  do {
    if (!in.data().empty() && !writeAll(fd, in.data()).ok()) {
      broken = true;
      break;
    }
  } while (stream->Read(&in));
  ::shutdown(fd, (broken || context->IsCancelled()) ? SHUT_RDWR : SHUT_WR);
  pump.join();
  return ::grpc::Status::OK;
}

}  // namespace kata::agent
