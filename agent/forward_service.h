// kata.ForwardService (protocols/forward.proto): carries a host connection to 127.0.0.1:<port>
// in the guest, for CRI port-forward (docs/architecture.md "Port-forward (CRI)"). Each call
// holds its gRPC handler thread (host -> guest) and one pump thread (guest -> host).
#pragma once

#include <atomic>

#include "protocols/forward.grpc.pb.h"

namespace kata::agent {

/// Forwarded connections open at once; more are refused with RESOURCE_EXHAUSTED.
inline constexpr int kForwardMaxConnections = 64;

class ForwardService final : public ::kata::ForwardService::Service {
 public:
  ::grpc::Status Connect(
      ::grpc::ServerContext* context,
      ::grpc::ServerReaderWriter<::kata::ForwardData, ::kata::ForwardData>* stream) override;

  int active() const { return active_.load(); }

 private:
  std::atomic<int> active_{0};
};

}  // namespace kata::agent
