// Which sandbox (pod) a container belongs to, from the CRI annotations of its config.json:
// containerd's CRI plugin (io.kubernetes.cri.*) or CRI-O's (io.kubernetes.cri-o.*). A "container"
// joins the sandbox named by the sandbox id; a "sandbox", or a container without annotations,
// is a sandbox of its own. kata-runtime and the shim v2 both group containers this way.
#pragma once

#include <string>

#include "lib/oci_spec.h"
#include "lib/result.h"

namespace kata::oci {

inline constexpr const char* kCriContainerType = "io.kubernetes.cri.container-type";
inline constexpr const char* kCriSandboxId = "io.kubernetes.cri.sandbox-id";
inline constexpr const char* kCrioContainerType = "io.kubernetes.cri-o.ContainerType";
inline constexpr const char* kCrioSandboxId = "io.kubernetes.cri-o.SandboxID";

struct PodRole {
  bool member = false;    // joins an existing sandbox
  std::string sandboxId;  // the sandbox to join (member only)
  // A CRI or CRI-O "sandbox" (the pause container): its members may share the pod's pid
  // namespace, which the guest then keeps for them.
  bool podSandbox = false;
};

/// A member without a sandbox id, or with one that is not a valid id, is an error (EINVAL).
Result<PodRole> podRole(const Spec& spec);

}  // namespace kata::oci
