// Converts the OCI runtime spec read from the bundle into the agent API's Spec message.
#pragma once

#include "lib/oci_spec.h"
#include "protocols/oci.pb.h"

namespace kata::vc {

/// What a VM cannot honour in a spec, where runc would not ignore it either: a one-line error
/// naming the first such field, before anything is created (docs/oci-conformance.md). What
/// runc ignores with a warning (kernel memory) is logged.
Status checkGuestCanHonour(const oci::Spec& spec);
/// The same for the process of an exec.
Status checkGuestCanHonour(const oci::Process& process);

::grpc::Process toAgentProcess(const oci::Process& process);
::grpc::LinuxResources toAgentResources(const oci::Resources& resources);
/// The whole spec, unchanged in meaning; the caller rewrites host-specific parts (root path,
/// bind-mount sources, namespace paths) for the guest.
::grpc::Spec toAgentSpec(const oci::Spec& spec);

}  // namespace kata::vc
