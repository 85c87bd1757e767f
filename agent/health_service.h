// grpc.Health: Check (always SERVING while the agent answers) and Version.
#pragma once

#include "protocols/health.grpc.pb.h"

namespace kata::agent {

class HealthService final : public ::grpc::Health::Service {
 public:
  ::grpc::Status Check(::grpc::ServerContext*, const ::grpc::CheckRequest*,
                       ::grpc::HealthCheckResponse* resp) override;
  ::grpc::Status Version(::grpc::ServerContext*, const ::grpc::CheckRequest*,
                         ::grpc::VersionCheckResponse* resp) override;
};

}  // namespace kata::agent
