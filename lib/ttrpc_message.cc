#include "lib/ttrpc_message.h"

#include <iterator>

#include "ttrpc.pb.h"

namespace kata::ttrpc {

std::string codeName(Code code) {
  static constexpr const char* kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  auto i = static_cast<int32_t>(code);
  if (i >= 0 && i < static_cast<int32_t>(std::size(kNames))) return kNames[i];
  return "Code(" + std::to_string(i) + ")";
}

std::string RpcStatus::str() const {
  if (message.empty()) return codeName(code);
  return codeName(code) + ": " + message;
}

std::string encodeRequest(const Request& request) {
  ::ttrpc::Request msg;
  msg.set_service(request.service);
  msg.set_method(request.method);
  msg.set_payload(request.payload);
  msg.set_timeout_nano(request.timeoutNanos);
  for (const auto& [key, value] : request.metadata) {
    ::ttrpc::KeyValue* kv = msg.add_metadata();
    kv->set_key(key);
    kv->set_value(value);
  }
  return msg.SerializeAsString();
}

Result<Request> parseRequest(std::span<const uint8_t> data) {
  ::ttrpc::Request msg;
  // ParseFromArray checks wire types, lengths and UTF-8 of the string fields (proto3).
  if (!msg.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return makeError("malformed ttrpc.Request (" + std::to_string(data.size()) + " bytes)", EPROTO);
  }
  Request out;
  out.service = std::move(*msg.mutable_service());
  out.method = std::move(*msg.mutable_method());
  out.payload = std::move(*msg.mutable_payload());
  out.timeoutNanos = msg.timeout_nano();
  out.metadata.reserve(msg.metadata_size());
  for (auto& kv : *msg.mutable_metadata()) {
    out.metadata.emplace_back(std::move(*kv.mutable_key()), std::move(*kv.mutable_value()));
  }
  return out;
}

std::string encodeResponse(const Reply& reply) {
  ::ttrpc::Response msg;
  // Upstream's server always sends the status, code 0 included.
  msg.mutable_status()->set_code(static_cast<int32_t>(reply.status.code));
  msg.mutable_status()->set_message(reply.status.message);
  if (reply.ok()) msg.set_payload(reply.payload);
  return msg.SerializeAsString();
}

Result<Reply> parseResponse(std::span<const uint8_t> data) {
  ::ttrpc::Response msg;
  if (!msg.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return makeError("malformed ttrpc.Response (" + std::to_string(data.size()) + " bytes)",
                     EPROTO);
  }
  Reply out;
  if (msg.has_status()) {
    out.status.code = static_cast<Code>(msg.status().code());
    out.status.message = std::move(*msg.mutable_status()->mutable_message());
  }
  if (out.ok()) out.payload = std::move(*msg.mutable_payload());
  return out;
}

}  // namespace kata::ttrpc
