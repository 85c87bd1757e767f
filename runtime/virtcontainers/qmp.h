// Client of QEMU's machine protocol (QMP) over its unix socket. QEMU is treated as a peer that
// may misbehave: every reply is bounded in size and time, and parsed strictly.
#pragma once

#include <json/json.h>

#include <string>
#include <string_view>

#include "lib/result.h"
#include "lib/unique_fd.h"

namespace kata::vc {

/// Largest QMP message we accept; real replies are a few KiB.
inline constexpr size_t kQmpMaxMessage = 1 << 20;

/// Parses one QMP message (a JSON object on one line). Rejects anything else.
Result<Json::Value> parseQmpMessage(std::string_view line);

class Qmp {
 public:
  /// Connects to `socketPath` (retrying while QEMU creates it, up to `timeoutMs`), reads the
  /// greeting and negotiates capabilities.
  static Result<Qmp> connect(const std::string& socketPath, int timeoutMs);

  /// Runs `command` with optional `arguments` and returns the "return" member of the reply;
  /// an "error" reply becomes an Error with QEMU's description. Events are skipped.
  Result<Json::Value> execute(const std::string& command,
                              const Json::Value& arguments = Json::Value(Json::nullValue),
                              int timeoutMs = 10000);

 private:
  explicit Qmp(UniqueFd fd) : fd_(std::move(fd)) {}
  Result<Json::Value> readMessage(int timeoutMs);

  UniqueFd fd_;
  std::string buffer_;
};

}  // namespace kata::vc
