// Converts the OCI runtime spec read from the bundle into the agent API's Spec message.
#pragma once

#include "lib/oci_spec.h"
#include "protocols/oci.pb.h"

namespace kata::vc {

/// Annotation of the guest spec (never the user's: constrainForGuest sets or removes it):
/// "all" asks the agent to give the container a node for every device of the guest.
inline constexpr const char* kGuestDevicesAnnotation = "io.katacontainers.guest_devices";

/// What a VM cannot honour in a spec, where runc would not ignore it either: a one-line error
/// naming the first such field, before anything is created (docs/oci-conformance.md). What
/// runc ignores with a warning (kernel memory) is logged. Host devices cannot enter the VM:
/// linux.devices may list only the character devices every kernel numbers alike (null, zero,
/// tty, fuse, ...), unless the device cgroup allows every device (docker --privileged), whose
/// host devices constrainForGuest replaces with the guest's.
Status checkGuestCanHonour(const oci::Spec& spec);
/// The same for the process of an exec.
Status checkGuestCanHonour(const oci::Process& process);

::grpc::Process toAgentProcess(const oci::Process& process);
::grpc::LinuxResources toAgentResources(const oci::Resources& resources);
/// The whole spec, unchanged in meaning; the caller rewrites host-specific parts (root path,
/// bind-mount sources, namespace paths) for the guest.
::grpc::Spec toAgentSpec(const oci::Spec& spec);

/// Rewrites what the guest cannot take from a host spec, as upstream Kata 1.12's runtime does
/// (kata_agent.go: constraintGRPCSpec, handlePidNamespace), so that upstream's agent accepts
/// the result: no network namespace (the VM is the sandbox's network), no namespace paths
/// (host paths), no pid namespace (upstream's agent refuses one: it gives every container its
/// own, or the sandbox's, see sharesSandboxPidNamespace), no SELinux label (it applies to the
/// hypervisor), the host's devices of a privileged spec (the guest's are asked for with
/// kGuestDevicesAnnotation), and a cgroups path under /kata/<cid> unless the spec gives a
/// plain one.
void constrainForGuest(::grpc::Spec& spec, const std::string& containerId);

/// The path of the spec's network namespace; "" when the spec asks for a new one (the
/// sandbox then makes its own). checkGuestCanHonour refuses a spec without one.
std::string specNetns(const oci::Spec& spec);

/// CreateContainerRequest.sandbox_pidns: the spec joins an existing pid namespace (a path),
/// which in a VM can only be the sandbox's.
bool sharesSandboxPidNamespace(const oci::Spec& spec);

}  // namespace kata::vc
