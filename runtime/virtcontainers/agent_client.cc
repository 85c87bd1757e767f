#include "runtime/virtcontainers/agent_client.h"

#include <google/protobuf/stubs/logging.h>
#include <grpcpp/create_channel_posix.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "lib/log.h"
#include "lib/unique_fd.h"

namespace kata::vc {
namespace {

// How much of the guest's own error text an error keeps.
constexpr size_t kMaxGuestText = 512;

std::string duration(int ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

std::string guestText(std::string text) {
  if (text.size() > kMaxGuestText) text.resize(kMaxGuestText);  // the guest chooses this text
  return text;
}

// protobuf reports a malformed reply (a string that is not UTF-8, ...) on stderr, which is the
// operator's terminal or containerd's log: into our log instead, at debug level. The failed
// call has its own error.
void protobufToLog(google::protobuf::LogLevel, const char*, int, const std::string& message) {
  log::debug("protobuf: " + guestText(message));
}

Result<UniqueFd> connectUnix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return sysError("create unix socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return sysError("connect to the agent at " + path);
  return fd;
}

}  // namespace

Result<AgentClient> AgentClient::create(const std::string& url) {
  if (url.rfind("unix:", 0) != 0)
    return makeError("unsupported agent URL \"" + url + "\" (want unix://PATH)", EINVAL);
  std::string path = url.substr(url.rfind("unix://", 0) == 0 ? 7 : 5);
  if (path.empty() || path[0] != '/' || path.size() >= sizeof(sockaddr_un{}.sun_path))
    return makeError("agent URL \"" + url + "\": want an absolute socket path", EINVAL);
  static std::once_flag quietProtobuf;
  std::call_once(quietProtobuf, [] { google::protobuf::SetLogHandler(protobufToLog); });
  AgentClient c;
  c.socketPath_ = std::move(path);
  return c;
}

std::chrono::system_clock::time_point AgentClient::systemTime(Clock::time_point t) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(t - Clock::now());
}

Result<AgentClient::Link> AgentClient::connect(const char* what, Clock::time_point deadline,
                                               bool retry) const {
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    auto fd = connectUnix(socketPath_);
    if (fd.ok()) {
      grpcguard::Limits limits;
      limits.maxMessageBytes = kMaxAgentReplyBytes;
      KATA_ASSIGN_OR_RETURN(auto guard,
                            grpcguard::GuardedConnection::start(std::move(*fd), limits));
      ::grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(int(kMaxAgentReplyBytes));  // the guard's limit, again
      Link link;
      // gRPC owns the descriptor from here, and closes it with the channel.
      link.channel =
          ::grpc::CreateCustomInsecureChannelFromFd("kata-agent", guard->releaseClientFd(), args);
      link.guard = std::move(guard);
      if (!link.channel) return makeError(std::string("agent ") + what + ": no gRPC channel");
      return link;
    }
    // The proxy may not listen yet (or be restarting): that is not a failure until the deadline.
    int code = fd.error().code;
    if (!retry || (code != ENOENT && code != ECONNREFUSED && code != EAGAIN) ||
        Clock::now() + backoff >= deadline)
      return std::move(fd).error().wrap(std::string("agent ") + what);
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
}

Error AgentClient::rpcError(const char* what, const ::grpc::Status& s, const Link& link,
                            int timeoutMs, const std::string& replyType) {
  const std::string call = std::string("agent ") + what + ": ";
  // The guard cut the connection: gRPC saw it end, the guard knows why.
  if (std::string why = link.guard ? link.guard->violation() : ""; !why.empty())
    return makeError(call + why, EPROTO);
  if (s.error_code() == ::grpc::StatusCode::DEADLINE_EXCEEDED)
    return makeError(call + "no answer within " + duration(timeoutMs), ETIMEDOUT);
  // gRPC's words for an OK status whose reply did not parse (grpcpp/impl/client_unary_call.h).
  if (s.error_code() == ::grpc::StatusCode::UNIMPLEMENTED &&
      s.error_message() == "No message returned for unary request")
    return makeError(call + "the reply is not a valid " + replyType, EPROTO);
  if (s.error_code() == ::grpc::StatusCode::UNAVAILABLE)
    return makeError(call + "connection to the agent lost (" + guestText(s.error_message()) + ")",
                     ECONNRESET);
  // gRPC's message says what happened; an errno would only append a misleading strerror().
  // NOT_FOUND: no such container or process; FAILED_PRECONDITION: not in the state the call
  // needs (e.g. a start of a container that already runs).
  int code = s.error_code() == ::grpc::StatusCode::NOT_FOUND             ? ENOENT
             : s.error_code() == ::grpc::StatusCode::FAILED_PRECONDITION ? EALREADY
                                                                         : 0;
  return makeError(call + guestText(s.error_message()), code);
}

kata::Status AgentClient::waitReady(int timeoutMs) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  std::string last;
  while (Clock::now() < deadline) {
    const auto now = Clock::now();
    const auto attemptEnd = std::min(deadline, now + std::chrono::seconds(2));
    const int attemptMs =
        int(std::chrono::duration_cast<std::chrono::milliseconds>(attemptEnd - now).count());
    auto link = connect("Check", attemptEnd, false);
    if (link.ok()) {
      ::grpc::ClientContext ctx;
      ctx.set_deadline(systemTime(attemptEnd));
      ::grpc::CheckRequest req;
      ::grpc::HealthCheckResponse resp;
      ::grpc::Status s = ::grpc::Health::NewStub(link->channel)->Check(&ctx, req, &resp);
      if (s.ok() && resp.status() == ::grpc::HealthCheckResponse::SERVING) return okStatus();
      if (!s.ok())
        last = rpcError("Check", s, *link, attemptMs, resp.GetTypeName()).message;
      else
        last = "agent Check: not serving";
    } else {
      last = link.error().str();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return makeError("agent did not answer within " + duration(timeoutMs) +
                       (last.empty() ? "" : " (" + last + ")"),
                   ETIMEDOUT);
}

Result<std::string> AgentClient::version(int timeoutMs) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  KATA_ASSIGN_OR_RETURN(Link link, connect("Version", deadline, true));
  ::grpc::ClientContext ctx;
  ctx.set_deadline(systemTime(deadline));
  ::grpc::CheckRequest req;
  ::grpc::VersionCheckResponse resp;
  ::grpc::Status s = ::grpc::Health::NewStub(link.channel)->Version(&ctx, req, &resp);
  if (!s.ok()) return rpcError("Version", s, link, timeoutMs, resp.GetTypeName());
  return guestText(resp.agent_version());
}

}  // namespace kata::vc
