// ttrpc's request and response envelopes (protocols/ttrpc.proto) and the status codes they
// carry, with strict decoding: both are parsed from bytes the peer chose.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/result.h"

namespace kata::ttrpc {

/// gRPC's status codes, which ttrpc uses unchanged (google.rpc.Status.code).
enum class Code : int32_t {
  Ok = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
};

/// "Unimplemented", "DeadlineExceeded", ...; "Code(42)" for a code outside the list.
std::string codeName(Code code);

/// The outcome of a call as the wire carries it.
struct RpcStatus {
  Code code = Code::Ok;
  std::string message;

  bool ok() const { return code == Code::Ok; }
  /// "Unimplemented: ttrpc: unknown service \"x\"".
  std::string str() const;
};

/// What a call returns: a status and, when it is Ok, the method's serialized reply.
struct Reply {
  RpcStatus status;
  std::string payload;

  static Reply success(std::string payload) { return Reply{{}, std::move(payload)}; }
  static Reply failure(Code code, std::string message) {
    return Reply{{code, std::move(message)}, {}};
  }
  bool ok() const { return status.ok(); }
};

using Metadata = std::vector<std::pair<std::string, std::string>>;

/// A decoded ttrpc.Request.
struct Request {
  std::string service;  // "containerd.task.v2.Task"
  std::string method;   // "Create"
  std::string payload;
  int64_t timeoutNanos = 0;  // 0: none; negative: already expired
  Metadata metadata;
};

/// Serializes a ttrpc.Request (the data of a request frame).
std::string encodeRequest(const Request& request);
/// Parses a ttrpc.Request; malformed protobuf is an error (EPROTO).
Result<Request> parseRequest(std::span<const uint8_t> data);

/// Serializes a ttrpc.Response carrying `reply` (the status always, the payload when Ok).
std::string encodeResponse(const Reply& reply);
/// Parses a ttrpc.Response; malformed protobuf is an error (EPROTO). A response without a
/// status is a success, as upstream's client reads it.
Result<Reply> parseResponse(std::span<const uint8_t> data);

}  // namespace kata::ttrpc
