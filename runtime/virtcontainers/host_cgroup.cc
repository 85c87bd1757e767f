#include "runtime/virtcontainers/host_cgroup.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lib/fs_util.h"
#include "lib/parse.h"

namespace kata::vc {
namespace {

Result<std::string> cleanComponents(const std::string& p, const std::string& what) {
  std::string out;
  for (const auto& c : splitFields(p, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") return makeError(what + ": \"..\" is not allowed in a cgroup path", EINVAL);
    out += "/" + c;
  }
  return out;
}

// "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice", as systemd nests slices.
Result<std::string> expandSlice(const std::string& slice, const std::string& what) {
  const std::string suffix = ".slice";
  if (slice.size() <= suffix.size() ||
      slice.compare(slice.size() - suffix.size(), suffix.size(), suffix) != 0 ||
      slice.find('/') != std::string::npos)
    return makeError(what + ": \"" + slice + "\" is not a systemd slice name", EINVAL);
  const std::string base = slice.substr(0, slice.size() - suffix.size());
  if (base == "-") return std::string();  // the root slice
  std::string path, prefix;
  for (const auto& part : splitFields(base, '-')) {
    if (part.empty()) return makeError(what + ": \"" + slice + "\" has an empty part", EINVAL);
    prefix += (prefix.empty() ? "" : "-") + part;
    path += "/" + prefix + suffix;
  }
  return path;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// (file, value) pairs of the CPU limits, in the order they must be written (the period before
// the quota: the kernel checks the quota against the period in force).
std::vector<std::pair<std::string, std::string>> cpuFiles(bool unified, const oci::Resources& r) {
  std::vector<std::pair<std::string, std::string>> f;
  if (r.cpu) {
    const auto& c = *r.cpu;
    if (unified) {
      if (c.shares && *c.shares >= 2)  // runc's conversion of shares 2..262144 to weight 1..10000
        f.push_back({"cpu.weight", std::to_string(1 + ((*c.shares - 2) * 9999) / 262142)});
      if (c.quota || c.period) {
        std::string quota = c.quota && *c.quota > 0 ? std::to_string(*c.quota) : "max";
        f.push_back({"cpu.max", quota + " " + std::to_string(c.period.value_or(100000))});
      }
    } else {
      if (c.shares && *c.shares != 0) f.push_back({"cpu.shares", std::to_string(*c.shares)});
      if (c.period && *c.period != 0) f.push_back({"cpu.cfs_period_us", std::to_string(*c.period)});
      if (c.quota && *c.quota != 0) f.push_back({"cpu.cfs_quota_us", std::to_string(*c.quota)});
    }
    if (!c.cpus.empty()) f.push_back({"cpuset.cpus", c.cpus});
    if (!c.mems.empty()) f.push_back({"cpuset.mems", c.mems});
  }
  if (r.blockIO && r.blockIO->weight && *r.blockIO->weight != 0) {
    const std::string w = std::to_string(*r.blockIO->weight);
    if (unified) {
      f.push_back({"io.bfq.weight", w});
    } else {
      f.push_back({"blkio.weight", w});
      f.push_back({"blkio.bfq.weight", w});
    }
  }
  return f;
}

// A file of a controller that this hierarchy (v1) or this kernel (v2) lacks is skipped: the
// limit has no host side to reach there.
Status applyIn(bool unified, const std::string& dir, const oci::Resources& r) {
  for (const auto& [file, value] : cpuFiles(unified, r)) {
    const std::string p = dir + "/" + file;
    if (!exists(p)) continue;
    KATA_TRY_CTX(writeControlFile(p, value), "host cgroup");
  }
  return okStatus();
}

Status moveSelf(const std::string& dir) {
  return writeControlFile(dir + "/cgroup.procs", std::to_string(getpid()));
}

}  // namespace

Result<std::string> hostCgroupPath(const std::string& cgroupsPath) {
  const std::string what = "linux.cgroupsPath \"" + cgroupsPath.substr(0, 256) + "\"";
  if (cgroupsPath.empty()) return std::string();
  if (cgroupsPath[0] == '/' || cgroupsPath.find(':') == std::string::npos) {
    KATA_ASSIGN_OR_RETURN(std::string p, cleanComponents(cgroupsPath, what));
    if (p.empty()) return makeError(what + ": names the root cgroup", EINVAL);
    return p;
  }
  auto parts = splitFields(cgroupsPath, ':');
  if (parts.size() != 3)
    return makeError(what + ": expected \"slice:prefix:name\" (systemd) or a path", EINVAL);
  const std::string& name = parts[2];
  if (name.empty() || name.find('/') != std::string::npos ||
      parts[1].find('/') != std::string::npos)
    return makeError(what + ": bad systemd unit name", EINVAL);
  KATA_ASSIGN_OR_RETURN(std::string slice,
                        expandSlice(parts[0].empty() ? "system.slice" : parts[0], what));
  const std::string suffix = ".slice";
  if (name.size() > suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    KATA_ASSIGN_OR_RETURN(std::string leaf, expandSlice(name, what));
    return leaf;
  }
  return slice + "/" + (parts[1].empty() ? "" : parts[1] + "-") + name + ".scope";
}

Result<CgroupHierarchies> cgroupHierarchies(const std::string& root) {
  CgroupHierarchies h;
  struct statfs fs {};
  if (::statfs(root.c_str(), &fs) != 0) return sysError("statfs " + root);
  if (fs.f_type == CGROUP2_SUPER_MAGIC) {
    h.unified = true;
    h.dirs = {root};
    return h;
  }
  KATA_ASSIGN_OR_RETURN(auto names, listDir(root));
  for (const auto& n : names) {
    const std::string d = root + "/" + n;
    struct stat st {};
    // cpu and cpuacct share one mount; their other names are symlinks to it.
    if (::lstat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (::statfs(d.c_str(), &fs) == 0 && fs.f_type == CGROUP_SUPER_MAGIC) h.dirs.push_back(d);
  }
  if (h.dirs.empty()) return makeError("no cgroup hierarchy is mounted under " + root, ENOENT);
  return h;
}

Status createHostCgroup(const CgroupHierarchies& h, const std::string& path,
                        const oci::Resources* r) {
  for (const auto& root : h.dirs) {
    std::string dir = root;
    for (const auto& c : splitFields(path, '/')) {
      if (c.empty()) continue;
      const std::string parent = dir;
      dir += "/" + c;
      if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return sysError("mkdir " + dir);
      if (h.unified) {
        // The leaf's controllers must be enabled in each parent (best effort: a controller
        // the parent itself lacks is not offered).
        for (const char* ctl : {"+cpu", "+cpuset", "+memory", "+pids", "+io"})
          (void)writeControlFile(parent + "/cgroup.subtree_control", ctl);
        continue;
      }
      // v1 cpuset: a new level starts with no CPUs and refuses tasks until it has some.
      for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
        const std::string mine = dir + "/" + f;
        if (exists(mine) && readControlFile(mine).empty())
          KATA_TRY_CTX(writeControlFile(mine, readControlFile(parent + "/" + f)), "host cgroup");
      }
    }
    if (r) KATA_TRY(applyIn(h.unified, dir, *r));
    KATA_TRY_CTX(moveSelf(dir), "join host cgroup");
  }
  return okStatus();
}

Status enterHostCgroup(const CgroupHierarchies& h, const std::string& path) {
  for (const auto& root : h.dirs) KATA_TRY_CTX(moveSelf(root + path), "join host cgroup");
  return okStatus();
}

Status applyHostCgroup(const CgroupHierarchies& h, const std::string& path,
                       const oci::Resources& r) {
  for (const auto& root : h.dirs) {
    if (!exists(root + path)) return makeError("host cgroup " + root + path + " is gone", ENOENT);
    KATA_TRY(applyIn(h.unified, root + path, r));
  }
  return okStatus();
}

Status removeHostCgroup(const CgroupHierarchies& h, const std::string& path) {
  if (path.empty()) return okStatus();
  Status first;
  for (const auto& root : h.dirs) {
    const std::string dir = root + path;
    if (!exists(dir)) continue;
    // `kata-runtime run` joined it and deletes at the end: it leaves for the root first.
    auto procs = readFile(dir + "/cgroup.procs", 1 << 20);
    if (procs.ok()) {
      for (const auto& line : splitFields(*procs, '\n'))
        if (line == std::to_string(getpid())) (void)moveSelf(root);
    }
    // Processes killed just before may still be exiting: rmdir says EBUSY until they are gone.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (::rmdir(dir.c_str()) != 0) {
      if (errno == ENOENT) break;
      if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) {
        if (first.ok()) first = sysError("remove host cgroup " + dir);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return first;
}

}  // namespace kata::vc
