#include "agent/namespaces.h"

#include <sched.h>

namespace kata::agent {

Result<int> namespaceFlag(std::string_view type) {
  if (type == "pid") return CLONE_NEWPID;
  if (type == "network") return CLONE_NEWNET;
  if (type == "mount") return CLONE_NEWNS;
  if (type == "ipc") return CLONE_NEWIPC;
  if (type == "uts") return CLONE_NEWUTS;
  if (type == "user") return CLONE_NEWUSER;
  if (type == "cgroup") return CLONE_NEWCGROUP;
  return makeError("unknown namespace type \"" + std::string(type.substr(0, 64)) + "\"", EINVAL);
}

const char* namespaceProcName(int flag) {
  switch (flag) {
    case CLONE_NEWPID:
      return "pid";
    case CLONE_NEWNET:
      return "net";
    case CLONE_NEWNS:
      return "mnt";
    case CLONE_NEWIPC:
      return "ipc";
    case CLONE_NEWUTS:
      return "uts";
    case CLONE_NEWUSER:
      return "user";
    case CLONE_NEWCGROUP:
      return "cgroup";
    default:
      return "";
  }
}

}  // namespace kata::agent
