#include "agent/health_service.h"

#include <grpcpp/server_context.h>

#include "lib/version.h"

namespace kata::agent {

::grpc::Status HealthService::Check(::grpc::ServerContext*, const ::grpc::CheckRequest*,
                                    ::grpc::HealthCheckResponse* resp) {
  resp->set_status(::grpc::HealthCheckResponse::SERVING);
  return ::grpc::Status::OK;
}

::grpc::Status HealthService::Version(::grpc::ServerContext*, const ::grpc::CheckRequest*,
                                      ::grpc::VersionCheckResponse* resp) {
  // The agent API version (upstream reports its protocol version here, not the library's).
  resp->set_grpc_version("0.0.1");
  resp->set_agent_version(kata::kVersion);
  return ::grpc::Status::OK;
}

}  // namespace kata::agent
