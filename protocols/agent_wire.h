// Conventions of the Kata 1.x agent API that its .proto files do not spell out, shared by the
// agent (which answers with them) and the shim (which reads them). Upstream's agent and shim
// are the reference; docs/architecture.md ("Talking to the agent") lists them all.
#pragma once

#include <grpcpp/support/status.h>

#include <cstddef>

namespace kata::wire {

/// The answer to ReadStdout/ReadStderr once a stream has ended (every writer closed it and all
/// it held was read). Upstream's Go agent returns io.EOF there, which its gRPC server sends as
/// UNKNOWN with the message "EOF"; upstream's kata-shim stops copying on any error.
inline ::grpc::Status endOfStream() { return ::grpc::Status(::grpc::StatusCode::UNKNOWN, "EOF"); }

/// True for the end-of-stream answer of any agent: ours and upstream's (UNKNOWN "EOF"), and
/// upstream's built with gRPC-Go before 1.11 (OUT_OF_RANGE "EOF", which upstream's shim checks).
inline bool isEndOfStream(const ::grpc::Status& s) {
  return (s.error_code() == ::grpc::StatusCode::UNKNOWN ||
          s.error_code() == ::grpc::StatusCode::OUT_OF_RANGE) &&
         s.error_message() == "EOF";
}

/// kata.ForwardService (forward.proto, ours): bytes per data message the agent sends, and the
/// largest message the host accepts from it (a bigger one ends the call).
inline constexpr size_t kForwardChunk = 32 * 1024;
inline constexpr size_t kForwardMaxMessage = 64 * 1024;

}  // namespace kata::wire
