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
    // The stub shares ownership of the guard: the relay lives as long as any call may use it.
    struct Link {
      std::shared_ptr<grpcguard::GuardedConnection> guard;
      std::unique_ptr<::grpc::AgentService::Stub> stub;
    };
    auto link = std::make_shared<Link>(Link{guard, ::grpc::AgentService::NewStub(channel)});
    stub_ = std::shared_ptr<::grpc::AgentService::Stub>(link, link->stub.get());
    guard_ = std::move(guard);
    ++generation_;
  }
  std::weak_ptr<grpcguard::GuardedConnection> guard = guard_;
  return Handle{stub_, generation_, [guard] {
                  auto g = guard.lock();
                  return g ? g->violation() : std::string();
                }};
}

void AgentConnection::markBroken(uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation == generation_) {
    stub_.reset();
    guard_.reset();
  }
}

}  // namespace kata::shim
