#include "lib/pod_role.h"

#include "lib/container_id.h"

namespace kata::oci {

Result<PodRole> podRole(const Spec& spec) {
  auto get = [&spec](const char* key) -> std::string {
    auto it = spec.annotations.find(key);
    return it == spec.annotations.end() ? "" : it->second;
  };
  std::string type = get(kCriContainerType);
  std::string sid = get(kCriSandboxId);
  if (type.empty()) {
    type = get(kCrioContainerType);
    sid = get(kCrioSandboxId);
  }
  PodRole role;
  if (type == "container") {
    if (sid.empty()) return makeError("pod container without a sandbox id annotation", EINVAL);
    KATA_TRY_CTX(validateContainerId(sid), "sandbox id annotation");
    role.member = true;
    role.sandboxId = sid;
  }
  role.podSandbox = type == "sandbox";
  return role;
}

}  // namespace kata::oci
