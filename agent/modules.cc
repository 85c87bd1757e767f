#include "agent/modules.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sstream>

#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/unique_fd.h"

namespace kata::agent {

Result<std::vector<ModuleEntry>> parseModuleList(std::string_view text) {
  std::vector<ModuleEntry> out;
  std::istringstream in{std::string(text)};
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    std::istringstream words(line);
    std::string path;
    if (!(words >> path) || path[0] == '#') continue;
    if (path[0] != '/') {
      return makeError("module list line " + std::to_string(lineNo) + ": \"" + path +
                       "\" is not an absolute path");
    }
    ModuleEntry entry{path, ""};
    std::string param;
    while (words >> param) {
      if (!entry.params.empty()) entry.params += ' ';
      entry.params += param;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

Result<size_t> loadModules(const std::string& listPath) {
  KATA_ASSIGN_OR_RETURN(auto text, readFile(listPath, 1 << 20));
  KATA_ASSIGN_OR_RETURN(auto entries, parseModuleList(text));
  size_t loaded = 0;
  for (const auto& m : entries) {
    UniqueFd fd(::open(m.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      log::warn("kernel module missing", {{"error", sysError("open " + m.path).str()}});
      continue;
    }
    // finit_module: loads the module from the initrd file; the kernel checks it.
    if (::syscall(SYS_finit_module, fd.get(), m.params.c_str(), 0) != 0 && errno != EEXIST) {
      log::warn("kernel module failed to load",
                {{"module", m.path}, {"error", sysError("finit_module").str()}});
      continue;
    }
    log::debug("kernel module loaded", {{"module", m.path}});
    ++loaded;
  }
  return loaded;
}

}  // namespace kata::agent
