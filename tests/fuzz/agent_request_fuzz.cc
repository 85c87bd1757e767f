// Fuzz target for the agent's request validation: the runtime (and whoever controls the host
// side of the channel) sends CreateContainer and ExecProcess requests, so any byte string must
// be refused with an Error or become a checked configuration, never crash, hang or leak.
// Nothing is executed: only the parsing and checking layers run (buildContainerConfig reads
// the rootfs' /etc/passwd and /etc/group at most).
//
// Input: one selector byte, then the protobuf wire bytes of the request (or raw text for the
// ps filter).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/cgroups.h"
#include "agent/container_config.h"
#include "agent/process_list.h"
#include "protocols/agent.pb.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

[[maybe_unused]] const bool kQuiet = kata::fuzz::quietProtobuf();

void checkCreate(const std::string& bytes) {
  grpc::CreateContainerRequest req;
  if (!req.ParseFromString(bytes)) return;
  for (bool guest : {false, true}) {
    kata::agent::SandboxContext ctx;
    ctx.guestMode = guest;
    auto config = kata::agent::buildContainerConfig(req, ctx);
    if (!config.ok()) {
      if (config.error().message.empty()) abort();  // every refusal says why
      continue;
    }
    // Accepted configurations keep the invariants the spawner relies on.
    if (config->process.args.empty()) abort();
    if (config->rootfs.rootfs.empty() || config->rootfs.rootfs[0] != '/') abort();
    for (const auto& m : config->rootfs.mounts) {
      if (!kata::agent::validateContainerPath(m.destination, "mount").ok()) abort();
    }
  }
  (void)kata::agent::normalizeCgroupPath(req.oci().linux().cgroupspath(), "fuzz");
}

void checkExec(const std::string& bytes) {
  grpc::ExecProcessRequest req;
  if (!req.ParseFromString(bytes)) return;
  auto spec = kata::agent::buildProcessSpec(
      req.process(), req.has_string_user() ? &req.string_user() : nullptr, "/nonexistent", {});
  if (spec.ok() && spec->args.empty()) abort();
  (void)kata::agent::validateContainerPath(req.process().cwd(), "cwd");
}

void checkPs(const std::string& text) {
  std::vector<std::string> args;
  size_t start = 0;
  while (start < text.size() && args.size() < 64) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    args.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  (void)kata::agent::psArguments(args);
  auto table = kata::agent::filterPsTable(text, {1, 2, 3});
  // The header always survives filtering.
  if (table.ok() && table->rfind(text.substr(0, text.find('\n')), 0) != 0) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      checkCreate(bytes);
      break;
    case 1:
      checkExec(bytes);
      break;
    default:
      checkPs(bytes);
      break;
  }
  return 0;
}
