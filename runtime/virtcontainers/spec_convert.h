// Converts the OCI runtime spec read from the bundle into the agent API's Spec message.
#pragma once

#include "lib/oci_spec.h"
#include "protocols/oci.pb.h"

namespace kata::vc {

::grpc::Process toAgentProcess(const oci::Process& process);
::grpc::LinuxResources toAgentResources(const oci::Resources& resources);
/// The whole spec, unchanged in meaning; the caller rewrites host-specific parts (root path,
/// bind-mount sources, namespace paths) for the guest.
::grpc::Spec toAgentSpec(const oci::Spec& spec);

}  // namespace kata::vc
