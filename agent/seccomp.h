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

/// A compiled profile: the raw sock_filter array and the SECCOMP_FILTER_FLAG_* to load it with.
struct SeccompProgram {
  std::string bpf;  // empty: no filter
  unsigned flags = 0;
  bool empty() const { return bpf.empty(); }
};

/// Compiles the profile to BPF. Unknown syscall names are skipped (listed in `skipped`), as
/// runc does; unknown actions, operators, architectures or flags are errors naming them.
/// SCMP_ACT_ERRNO and SCMP_ACT_TRACE return `errnoRet` (defaultErrnoRet for the default
/// action), EPERM when absent. Several conditions on one argument become one rule each (any
/// of them matches), as runc does.
Result<SeccompProgram> compileSeccomp(const grpc::LinuxSeccomp& profile,
                                      std::vector<std::string>* skipped = nullptr);

/// In the child: installs a program from compileSeccomp.
Status installSeccomp(const SeccompProgram& program);

}  // namespace kata::agent
