// Kernel modules listed by osbuilder in the initrd (/lib/modules/kata-modules.list), loaded by
// the agent as PID 1 before anything needs the devices they drive (virtio-serial, 9p, vsock).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lib/result.h"

namespace kata::agent {

struct ModuleEntry {
  std::string path;    // absolute path of the .ko inside the initrd
  std::string params;  // "param=value ..." (space separated, may be empty)
};

/// Parses the list: one module per line, `<abs path> [param=value ...]`; blank lines and
/// '#' comments are skipped. A relative path is an error naming the line.
Result<std::vector<ModuleEntry>> parseModuleList(std::string_view text);

/// Loads every module of the list file in order with finit_module. EEXIST counts as loaded; a
/// missing .ko or a failed load is logged and the next one is tried. Returns how many are
/// loaded; an error only when the list itself is unreadable or malformed.
Result<size_t> loadModules(const std::string& listPath);

/// A module CreateSandbox asks for ([agent.kata] kernel_modules): upstream's agent runs
/// `modprobe name params...`.
struct RequestedModule {
  std::string name;
  std::vector<std::string> params;
};

/// Makes sure each module is in the kernel: present under `sysModuleDir` (loaded, or built in)
/// is enough; otherwise the module of that name (dashes and underscores alike) in the list file
/// is loaded with the requested parameters. ENOENT naming the module when the guest has none.
Status requireModules(const std::vector<RequestedModule>& modules, const std::string& listPath,
                      const std::string& sysModuleDir = "/sys/module");

}  // namespace kata::agent
