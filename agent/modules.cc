#include "agent/modules.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
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

namespace {

// Loads one .ko file; EEXIST (already loaded) is success.
Status loadModuleFile(const std::string& path, const std::string& params) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return sysError("open " + path);
  // finit_module: loads the module from the initrd file; the kernel checks it.
  if (::syscall(SYS_finit_module, fd.get(), params.c_str(), 0) != 0 && errno != EEXIST) {
    return sysError("load kernel module " + path);
  }
  return okStatus();
}

// The kernel's name of a module: "9pnet-virtio", ".../9pnet_virtio.ko" -> "9pnet_virtio".
std::string moduleName(std::string_view pathOrName) {
  size_t slash = pathOrName.rfind('/');
  if (slash != std::string_view::npos) pathOrName.remove_prefix(slash + 1);
  std::string name(pathOrName.substr(0, pathOrName.find(".ko")));
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

}  // namespace

Result<size_t> loadModules(const std::string& listPath) {
  KATA_ASSIGN_OR_RETURN(auto text, readFile(listPath, 1 << 20));
  KATA_ASSIGN_OR_RETURN(auto entries, parseModuleList(text));
  size_t loaded = 0;
  for (const auto& m : entries) {
    if (auto s = loadModuleFile(m.path, m.params); !s.ok()) {
      log::warn("kernel module not loaded", {{"module", m.path}, {"error", s.error().str()}});
      continue;
    }
    log::debug("kernel module loaded", {{"module", m.path}});
    ++loaded;
  }
  return loaded;
}

Status requireModules(const std::vector<RequestedModule>& modules, const std::string& listPath,
                      const std::string& sysModuleDir) {
  std::vector<ModuleEntry> entries;
  bool listRead = false;
  for (const auto& m : modules) {
    std::string name = moduleName(m.name);
    if (name.empty() || m.name.find('/') != std::string::npos || m.params.size() > 64) {
      return makeError("kernel module \"" + m.name.substr(0, 64) + "\" is not a module name",
                       EINVAL);
    }
    if (::access((sysModuleDir + "/" + name).c_str(), F_OK) == 0) continue;  // in the kernel
    if (!listRead) {
      auto text = readFile(listPath, 1 << 20);
      if (text.ok()) {
        KATA_ASSIGN_OR_RETURN(entries, parseModuleList(*text));
      }
      listRead = true;
    }
    auto it = std::find_if(entries.begin(), entries.end(),
                           [&](const ModuleEntry& e) { return moduleName(e.path) == name; });
    if (it == entries.end()) {
      return makeError("kernel module " + name + " is not in the kernel" +
                           (listPath.empty() ? "" : " nor in " + listPath),
                       ENOENT);
    }
    std::string params;
    for (const auto& p : m.params) params += (params.empty() ? "" : " ") + p;
    KATA_TRY(loadModuleFile(it->path, params));
    log::info("kernel module loaded on request", {{"module", name}});
  }
  return okStatus();
}

}  // namespace kata::agent
