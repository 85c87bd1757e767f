#include "lib/mount_options.h"

#include <sys/mount.h>

#include <map>

namespace kata::mount {

namespace {

struct FlagWord {
  bool clear;
  unsigned long flag;
};

const std::map<std::string, FlagWord>& flagWords() {
  static const std::map<std::string, FlagWord> words = {
      {"defaults", {false, 0}},
      {"ro", {false, MS_RDONLY}},
      {"rw", {true, MS_RDONLY}},
      {"nosuid", {false, MS_NOSUID}},
      {"suid", {true, MS_NOSUID}},
      {"nodev", {false, MS_NODEV}},
      {"dev", {true, MS_NODEV}},
      {"noexec", {false, MS_NOEXEC}},
      {"exec", {true, MS_NOEXEC}},
      {"sync", {false, MS_SYNCHRONOUS}},
      {"async", {true, MS_SYNCHRONOUS}},
      {"dirsync", {false, MS_DIRSYNC}},
      {"remount", {false, MS_REMOUNT}},
      {"mand", {false, MS_MANDLOCK}},
      {"nomand", {true, MS_MANDLOCK}},
      {"atime", {true, MS_NOATIME}},
      {"noatime", {false, MS_NOATIME}},
      {"diratime", {true, MS_NODIRATIME}},
      {"nodiratime", {false, MS_NODIRATIME}},
      {"relatime", {false, MS_RELATIME}},
      {"norelatime", {true, MS_RELATIME}},
      {"strictatime", {false, MS_STRICTATIME}},
      {"nostrictatime", {true, MS_STRICTATIME}},
      {"bind", {false, MS_BIND}},
      {"rbind", {false, MS_BIND | MS_REC}},
  };
  return words;
}

const std::map<std::string, unsigned long>& propagationWords() {
  static const std::map<std::string, unsigned long> words = {
      {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
      {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
      {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
      {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
  };
  return words;
}

}  // namespace

bool MountOptions::bind() const { return (flags & MS_BIND) != 0; }
bool MountOptions::readonly() const { return (flags & MS_RDONLY) != 0; }

MountOptions parseMountOptions(const std::vector<std::string>& options) {
  MountOptions out;
  for (const auto& opt : options) {
    if (auto it = flagWords().find(opt); it != flagWords().end()) {
      if (it->second.clear) {
        out.flags &= ~it->second.flag;
      } else {
        out.flags |= it->second.flag;
      }
    } else if (auto p = propagationWords().find(opt); p != propagationWords().end()) {
      out.propagation.push_back(p->second);
    } else if (!opt.empty()) {
      if (!out.data.empty()) out.data += ',';
      out.data += opt;
    }
  }
  return out;
}

}  // namespace kata::mount
