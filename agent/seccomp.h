// The OCI seccomp profile compiled with libseccomp. Compilation happens in the agent (it
// allocates and may log); the forked child only installs the finished BPF program.
#pragma once

#include <string>
#include <vector>

#include "lib/result.h"

namespace grpc {
class LinuxSeccomp;
}

namespace kata::agent {

/// Compiles the profile to BPF (the raw sock_filter array). Unknown syscall names are skipped
/// (listed in `skipped`); unknown actions, operators or architectures are errors naming them.
Result<std::string> compileSeccomp(const grpc::LinuxSeccomp& profile,
                                   std::vector<std::string>* skipped = nullptr);

/// In the child: installs a program from compileSeccomp.
Status installSeccomp(const std::string& bpf);

}  // namespace kata::agent
