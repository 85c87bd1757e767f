// Mapping of our errors to gRPC status codes, in one place for every RPC.
#pragma once

#include <grpcpp/support/status.h>

#include "lib/result.h"

namespace kata::agent {

/// ENOENT -> NOT_FOUND, EEXIST -> ALREADY_EXISTS, EINVAL & co -> INVALID_ARGUMENT,
/// ESRCH/EALREADY -> FAILED_PRECONDITION, ETIMEDOUT -> DEADLINE_EXCEEDED, EPERM/EACCES ->
/// PERMISSION_DENIED, ENOTSUP/ENOSYS -> UNIMPLEMENTED, anything else INTERNAL. The message is
/// the error's one-line text.
::grpc::Status toGrpcStatus(const Error& error);
::grpc::Status toGrpcStatus(const Status& status);

}  // namespace kata::agent
