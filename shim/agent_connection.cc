#include "shim/agent_connection.h"

#include <grpcpp/create_channel_posix.h>

namespace kata::shim {

Result<AgentConnection::Handle> AgentConnection::get() {
  std::lock_guard lock(mu_);
  if (!stub_) {
    KATA_ASSIGN_OR_RETURN(UniqueFd fd, dialer_());
    grpcguard::Limits limits;
    limits.maxMessageBytes = kMaxAgentReplyBytes;
    KATA_ASSIGN_OR_RETURN(std::shared_ptr<grpcguard::GuardedConnection> guard,
                          grpcguard::GuardedConnection::start(std::move(fd), limits));
    ::grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxAgentReplyBytes);
    // A whole output chunk may arrive without waiting for HTTP/2 window updates: each one is a
    // round trip into the VM, slow under TCG.
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kMaxAgentReplyBytes);
    // Passing the fd hands its ownership to gRPC, which closes it with the channel.
    auto channel =
        ::grpc::CreateCustomInsecureChannelFromFd("kata-agent", guard->releaseClientFd(), args);
    if (!channel) return makeError("create gRPC channel to the agent");
    stub_ = ::grpc::AgentService::NewStub(channel);
    guard_ = std::move(guard);
    ++generation_;
  }
  return Handle{stub_, generation_, guard_};
}

void AgentConnection::markBroken(uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation == generation_) {
    stub_.reset();
    guard_.reset();
  }
}

}  // namespace kata::shim
