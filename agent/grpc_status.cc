#include "agent/grpc_status.h"

namespace kata::agent {

::grpc::Status toGrpcStatus(const Error& error) {
  ::grpc::StatusCode code;
  switch (error.code) {
    case ENOENT:
      code = ::grpc::StatusCode::NOT_FOUND;
      break;
    case EEXIST:
      code = ::grpc::StatusCode::ALREADY_EXISTS;
      break;
    case EINVAL:
    case ENAMETOOLONG:
    case E2BIG:
    case ENOTDIR:
    case EFBIG:
      code = ::grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case ESRCH:
    case EALREADY:
    case EPIPE:
      code = ::grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case ETIMEDOUT:
      code = ::grpc::StatusCode::DEADLINE_EXCEEDED;
      break;
    case EPERM:
    case EACCES:
      code = ::grpc::StatusCode::PERMISSION_DENIED;
      break;
    case ENOTSUP:
    case ENOSYS:
      code = ::grpc::StatusCode::UNIMPLEMENTED;
      break;
    default:
      code = ::grpc::StatusCode::INTERNAL;
      break;
  }
  return ::grpc::Status(code, error.str());
}

::grpc::Status toGrpcStatus(const Status& status) {
  if (status.ok()) return ::grpc::Status::OK;
  return toGrpcStatus(status.error());
}

}  // namespace kata::agent
