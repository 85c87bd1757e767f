// Client of QEMU's machine protocol (QMP) over its unix socket. QEMU is treated as a peer that
// may misbehave: every reply is bounded in size and time, and parsed strictly.
#pragma once

#include <json/json.h>

#include <deque>
#include <functional>
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
  /// an "error" reply becomes an Error with QEMU's description. Events that arrive meanwhile
  /// are kept (the latest kMaxKeptEvents) for waitEvent().
  Result<Json::Value> execute(const std::string& command,
                              const Json::Value& arguments = Json::Value(Json::nullValue),
                              int timeoutMs = 10000);

  /// Waits up to `timeoutMs` for QEMU's event `name` whose "data" satisfies `match`, counting
  /// one that arrived during an earlier command; returns (and consumes) its data.
  Result<Json::Value> waitEvent(const std::string& name,
                                const std::function<bool(const Json::Value& data)>& match,
                                int timeoutMs);

  /// Hotplugs a device: device_add of `driver` with `id` and `properties` (bus, addr, ...).
  Status deviceAdd(const std::string& driver, const std::string& id,
                   const Json::Value& properties = Json::Value(Json::objectValue),
                   int timeoutMs = 10000);

  /// Unplugs device `id` and waits until QEMU reports it gone (DEVICE_DELETED). device_del
  /// only asks: a device in a slot the guest has powered on leaves once the guest's PCIe, SHPC
  /// or ACPI hotplug driver releases it, so a guest that never does makes this time out.
  Status deviceDel(const std::string& id, int timeoutMs);

  /// The VM's run state from query-status: "running", "paused", "prelaunch", ...
  Result<std::string> runState(int timeoutMs = 10000);

  static constexpr size_t kMaxKeptEvents = 64;

 private:
  explicit Qmp(UniqueFd fd) : fd_(std::move(fd)) {}
  Result<Json::Value> readMessage(int timeoutMs);
  void keepEvent(Json::Value event);

  UniqueFd fd_;
  std::string buffer_;
  std::deque<Json::Value> events_;  // unclaimed events, oldest first
};

}  // namespace kata::vc
