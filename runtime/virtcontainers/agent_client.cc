#include "runtime/virtcontainers/agent_client.h"

#include <thread>

namespace kata::vc {

Result<AgentClient> AgentClient::create(const std::string& url) {
  if (url.rfind("unix:", 0) != 0)
    return makeError("unsupported agent URL \"" + url + "\" (want unix://PATH)", EINVAL);
  AgentClient c;
  ::grpc::ChannelArguments args;
  // The proxy is local: retry connecting quickly instead of gRPC's slow default backoff. (The
  // minimum backoff is left alone: gRPC also uses it as the connect timeout, and an agent under
  // TCG needs far more than a few milliseconds to answer the HTTP/2 handshake.)
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 16 << 20);
  c.channel_ = ::grpc::CreateCustomChannel(url, ::grpc::InsecureChannelCredentials(), args);
  c.agent_ = ::grpc::AgentService::NewStub(c.channel_);
  c.health_ = ::grpc::Health::NewStub(c.channel_);
  return c;
}

Error AgentClient::rpcError(const char* what, const ::grpc::Status& s) {
  // gRPC's message says what happened; an errno would only append a misleading strerror().
  // NOT_FOUND: no such container or process; FAILED_PRECONDITION: not in the state the call
  // needs (e.g. a start of a container that already runs).
  int code = s.error_code() == ::grpc::StatusCode::NOT_FOUND             ? ENOENT
             : s.error_code() == ::grpc::StatusCode::FAILED_PRECONDITION ? EALREADY
                                                                         : 0;
  std::string msg = s.error_message();
  if (msg.size() > 512) msg.resize(512);  // the guest chooses this text: keep it bounded
  return makeError(std::string("agent ") + what + ": " + msg, code);
}

kata::Status AgentClient::waitReady(int timeoutMs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  ::grpc::Status last;
  while (std::chrono::steady_clock::now() < deadline) {
    ::grpc::ClientContext ctx;
    auto attemptEnd = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2));
    ctx.set_deadline(std::chrono::system_clock::now() +
                     (attemptEnd - std::chrono::steady_clock::now()));
    ::grpc::CheckRequest req;
    ::grpc::HealthCheckResponse resp;
    last = health_->Check(&ctx, req, &resp);
    if (last.ok() && resp.status() == ::grpc::HealthCheckResponse::SERVING) return okStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return makeError("agent did not answer within " + std::to_string(timeoutMs / 1000) + "s" +
                       (last.error_message().empty() ? "" : " (" + last.error_message() + ")"),
                   ETIMEDOUT);
}

Result<std::string> AgentClient::version(int timeoutMs) {
  ::grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeoutMs));
  ::grpc::CheckRequest req;
  ::grpc::VersionCheckResponse resp;
  ::grpc::Status s = health_->Version(&ctx, req, &resp);
  if (!s.ok()) return rpcError("Version", s);
  return resp.agent_version();
}

}  // namespace kata::vc
