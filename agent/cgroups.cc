#include "agent/cgroups.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

#include "lib/fs_util.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/unique_fd.h"
#include "protocols/agent.pb.h"
#include "protocols/oci.pb.h"

namespace kata::agent {

namespace {

Status writeFileValue(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_TRUNC));
  if (!fd) return sysError("open " + path);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return sysError("write \"" + value + "\" to " + path);
  }
  return okStatus();
}

std::string readTrimmed(const std::string& path) {
  auto text = readFile(path, 1 << 20);
  if (!text.ok()) return "";
  std::string s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

uint64_t readU64(const std::string& path) {
  auto v = parseInt<uint64_t>(readTrimmed(path), path);
  return v.ok() ? *v : 0;
}

bool isController(const std::string& opt) {
  static const char* notControllers[] = {
      "rw",     "ro",    "xattr", "clone_children", "noprefix", "cpuset_v2_mode",
      "nosuid", "nodev", "noexec"};
  for (const char* n : notControllers) {
    if (opt == n) return false;
  }
  return opt.rfind("release_agent=", 0) != 0;
}

/// Parses blkio "MAJ:MIN Op value" lines (the "Total" line is dropped).
void parseBlkioEntries(const std::string& text,
                       ::google::protobuf::RepeatedPtrField<grpc::BlkioStatsEntry>* out) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string dev, op;
    uint64_t value = 0;
    unsigned major = 0, minor = 0;
    if (!(l >> dev)) continue;
    if (std::sscanf(dev.c_str(), "%u:%u", &major, &minor) != 2) continue;
    if (!(l >> op)) continue;
    if (!(l >> value)) {
      // "MAJ:MIN value" files (sectors, time) have no op column.
      auto v = parseInt<uint64_t>(op, "blkio value");
      if (!v.ok()) continue;
      value = *v;
      op.clear();
    }
    auto* e = out->Add();
    e->set_major(major);
    e->set_minor(minor);
    e->set_op(op);
    e->set_value(value);
  }
}

void blkioStats(const std::string& dir, grpc::BlkioStats* out) {
  // CFQ accounts in blkio.*; BFQ in blkio.bfq.*; without either only the throttle layer counts.
  std::string prefix = "blkio.throttle.";
  if (::access((dir + "/blkio.io_serviced_recursive").c_str(), F_OK) == 0) {
    prefix = "blkio.";
  } else if (::access((dir + "/blkio.bfq.io_serviced_recursive").c_str(), F_OK) == 0) {
    prefix = "blkio.bfq.";
  }
  parseBlkioEntries(readTrimmed(dir + "/" + prefix + "io_service_bytes_recursive"),
                    out->mutable_io_service_bytes_recursive());
  parseBlkioEntries(readTrimmed(dir + "/" + prefix + "io_serviced_recursive"),
                    out->mutable_io_serviced_recursive());
  if (prefix == "blkio.throttle.") return;
  parseBlkioEntries(readTrimmed(dir + "/" + prefix + "io_queued_recursive"),
                    out->mutable_io_queued_recursive());
  parseBlkioEntries(readTrimmed(dir + "/" + prefix + "io_service_time_recursive"),
                    out->mutable_io_service_time_recursive());
  parseBlkioEntries(readTrimmed(dir + "/" + prefix + "io_wait_time_recursive"),
                    out->mutable_io_wait_time_recursive());
  parseBlkioEntries(readTrimmed(dir + "/" + prefix + "io_merged_recursive"),
                    out->mutable_io_merged_recursive());
  parseBlkioEntries(readTrimmed(dir + "/" + prefix + "time_recursive"),
                    out->mutable_io_time_recursive());
  parseBlkioEntries(readTrimmed(dir + "/" + prefix + "sectors_recursive"),
                    out->mutable_sectors_recursive());
}

}  // namespace

std::vector<CgroupHierarchy> parseCgroupMounts(std::string_view mountinfo) {
  std::vector<CgroupHierarchy> out;
  std::istringstream in{std::string(mountinfo)};
  std::string line;
  while (std::getline(in, line)) {
    auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    std::istringstream pre(line.substr(0, sep));
    std::istringstream post(line.substr(sep + 3));
    std::string id, parent, dev, root, mountPoint, fstype, source, superOpts;
    if (!(pre >> id >> parent >> dev >> root >> mountPoint)) continue;
    if (!(post >> fstype >> source >> superOpts) || fstype != "cgroup") continue;
    CgroupHierarchy h{mountPoint, {}};
    for (const auto& opt : splitFields(superOpts, ',')) {
      if (isController(opt)) h.controllers.push_back(opt);
    }
    if (!h.controllers.empty()) out.push_back(std::move(h));
  }
  return out;
}

Result<std::string> normalizeCgroupPath(const std::string& path, const std::string& containerId) {
  if (path.empty() || path.find(':') != std::string::npos) return "/kata/" + containerId;
  if (path.size() > 4096) return makeError("cgroupsPath is too long", EINVAL);
  std::string out;
  for (const auto& part : splitFields(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return makeError("cgroupsPath \"" + path + "\" must not contain \"..\"", EINVAL);
    }
    out += "/" + part;
  }
  if (out.empty()) return makeError("cgroupsPath \"" + path + "\" names the root cgroup", EINVAL);
  return out;
}

Result<Cgroup> Cgroup::create(const std::string& path) {
  KATA_ASSIGN_OR_RETURN(auto mountinfo, readFile("/proc/self/mountinfo", 16 << 20));
  Cgroup cg;
  cg.path_ = path;
  for (auto& h : parseCgroupMounts(mountinfo)) {
    Dir d{h, h.mountPoint + path, {}};
    bool cpuset =
        std::find(h.controllers.begin(), h.controllers.end(), "cpuset") != h.controllers.end();
    std::string cur = h.mountPoint;
    for (const auto& part : splitFields(path.substr(1), '/')) {
      std::string parentDir = cur;
      cur += "/" + part;
      if (::mkdir(cur.c_str(), 0755) == 0) {
        d.created.push_back(cur);
        if (cpuset) {
          // A new cpuset starts empty and refuses tasks: inherit the parent's cpus and mems.
          for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
            if (readTrimmed(cur + "/" + f).empty()) {
              (void)writeFileValue(cur + "/" + f, readTrimmed(parentDir + "/" + f));
            }
          }
        }
      } else if (errno != EEXIST) {
        Error err = sysError("create cgroup " + cur);
        cg.dirs_.push_back(std::move(d));
        (void)cg.destroy();
        return err;
      }
    }
    cg.dirs_.push_back(std::move(d));
  }
  if (cg.dirs_.empty()) log::warn("no cgroup v1 hierarchy mounted; container has no limits");
  return cg;
}

const Cgroup::Dir* Cgroup::find(const std::string& controller) const {
  for (const auto& d : dirs_) {
    for (const auto& c : d.hierarchy.controllers) {
      if (c == controller) return &d;
    }
  }
  return nullptr;
}

Status Cgroup::write(const std::string& controller, const std::string& file,
                     const std::string& value, bool optional) const {
  const Dir* d = find(controller);
  if (!d) {
    log::debug("cgroup controller not mounted, limit skipped",
               {{"controller", controller}, {"file", file}});
    return okStatus();
  }
  std::string path = d->dir + "/" + file;
  if (optional && ::access(path.c_str(), F_OK) != 0) return okStatus();
  return writeFileValue(path, value);
}

Status Cgroup::apply(const grpc::LinuxResources& r, bool initial) {
  if (r.has_memory()) {
    const auto& m = r.memory();
    // The kernel keeps memsw (memory+swap) >= memory: when the new memsw limit is above the
    // current one it must go first, otherwise the memory limit must.
    bool swapFirst = false;
    if (m.swap() != 0) {
      const Dir* d = find("memory");
      uint64_t current = d ? readU64(d->dir + "/memory.memsw.limit_in_bytes") : 0;
      swapFirst = m.swap() < 0 || static_cast<uint64_t>(m.swap()) > current;
    }
    auto writeSwap = [&]() -> Status {
      if (m.swap() == 0) return okStatus();
      return write("memory", "memory.memsw.limit_in_bytes", std::to_string(m.swap()), true);
    };
    if (swapFirst) KATA_TRY(writeSwap());
    if (m.limit() != 0)
      KATA_TRY(write("memory", "memory.limit_in_bytes", std::to_string(m.limit()), false));
    if (!swapFirst) KATA_TRY(writeSwap());
    if (m.reservation() != 0) {
      KATA_TRY(
          write("memory", "memory.soft_limit_in_bytes", std::to_string(m.reservation()), false));
    }
    if (m.kerneltcp() != 0) {
      KATA_TRY(
          write("memory", "memory.kmem.tcp.limit_in_bytes", std::to_string(m.kerneltcp()), true));
    }
    if (m.swappiness() > 0 && m.swappiness() <= 100) {
      KATA_TRY(write("memory", "memory.swappiness", std::to_string(m.swappiness()), true));
    }
    if (m.disableoomkiller()) KATA_TRY(write("memory", "memory.oom_control", "1", true));
  }
  if (r.has_cpu()) {
    const auto& c = r.cpu();
    if (c.shares() != 0) KATA_TRY(write("cpu", "cpu.shares", std::to_string(c.shares()), false));
    if (c.period() != 0)
      KATA_TRY(write("cpu", "cpu.cfs_period_us", std::to_string(c.period()), false));
    if (c.quota() != 0)
      KATA_TRY(write("cpu", "cpu.cfs_quota_us", std::to_string(c.quota()), false));
    if (c.realtimeperiod() != 0) {
      KATA_TRY(write("cpu", "cpu.rt_period_us", std::to_string(c.realtimeperiod()), true));
    }
    if (c.realtimeruntime() != 0) {
      KATA_TRY(write("cpu", "cpu.rt_runtime_us", std::to_string(c.realtimeruntime()), true));
    }
    if (!c.cpus().empty()) KATA_TRY(write("cpuset", "cpuset.cpus", c.cpus(), false));
    if (!c.mems().empty()) KATA_TRY(write("cpuset", "cpuset.mems", c.mems(), false));
  }
  if (r.has_pids() && r.pids().limit() != 0) {
    std::string v = r.pids().limit() < 0 ? "max" : std::to_string(r.pids().limit());
    KATA_TRY(write("pids", "pids.max", v, false));
  }
  if (r.has_blockio()) {
    const auto& b = r.blockio();
    if (b.weight() != 0) KATA_TRY(writeBlkioWeight(b.weight()));
    if (b.leafweight() != 0) {
      KATA_TRY(write("blkio", "blkio.leaf_weight", std::to_string(b.leafweight()), true));
    }
    for (const auto& w : b.weightdevice()) {
      KATA_TRY(write("blkio", "blkio.weight_device",
                     std::to_string(w.major()) + ":" + std::to_string(w.minor()) + " " +
                         std::to_string(w.weight()),
                     true));
    }
    auto throttle = [&](const auto& list, const char* file) -> Status {
      for (const auto& t : list) {
        KATA_TRY(write("blkio", file,
                       std::to_string(t.major()) + ":" + std::to_string(t.minor()) + " " +
                           std::to_string(t.rate()),
                       true));
      }
      return okStatus();
    };
    KATA_TRY(throttle(b.throttlereadbpsdevice(), "blkio.throttle.read_bps_device"));
    KATA_TRY(throttle(b.throttlewritebpsdevice(), "blkio.throttle.write_bps_device"));
    KATA_TRY(throttle(b.throttlereadiopsdevice(), "blkio.throttle.read_iops_device"));
    KATA_TRY(throttle(b.throttlewriteiopsdevice(), "blkio.throttle.write_iops_device"));
  }
  for (const auto& h : r.hugepagelimits()) {
    if (h.pagesize().find('/') != std::string::npos || h.pagesize().size() > 16) {
      return makeError("hugepage size \"" + h.pagesize().substr(0, 16) + "\" is invalid", EINVAL);
    }
    KATA_TRY(write("hugetlb", "hugetlb." + h.pagesize() + ".limit_in_bytes",
                   std::to_string(h.limit()), true));
  }
  if (initial || !r.devices().empty()) KATA_TRY(applyDeviceRules(r));
  if (r.has_network()) {
    if (r.network().classid() != 0) {
      KATA_TRY(write("net_cls", "net_cls.classid", std::to_string(r.network().classid()), true));
    }
    for (const auto& p : r.network().priorities()) {
      KATA_TRY(write("net_prio", "net_prio.ifpriomap",
                     p.name() + " " + std::to_string(p.priority()), true));
    }
  }
  return okStatus();
}

Result<std::vector<DeviceRule>> deviceCgroupRules(const grpc::LinuxResources& r) {
  std::vector<DeviceRule> out = {{false, "a *:* rwm"}};
  for (const auto& d : r.devices()) {
    std::string type = d.type().empty() ? "a" : d.type();
    if (type != "a" && type != "b" && type != "c") {
      return makeError("device cgroup rule type \"" + type.substr(0, 8) + "\" is invalid", EINVAL);
    }
    std::string access = d.access().empty() ? "rwm" : d.access();
    if (access.find_first_not_of("rwm") != std::string::npos || access.size() > 3) {
      return makeError("device cgroup rule access \"" + access.substr(0, 8) + "\" is invalid",
                       EINVAL);
    }
    auto num = [](int64_t v) { return v < 0 ? std::string("*") : std::to_string(v); };
    out.push_back({d.allow(), type + " " + num(d.major()) + ":" + num(d.minor()) + " " + access});
  }
  // What runc (libcontainer/specconv's AllowedDevices, runc 1.1) appends after the spec's own
  // rules, so that they win: creating any node, the default devices, ptys and /dev/net/tun.
  for (const char* rule : {"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm",
                           "c 1:5 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"}) {
    out.push_back({true, rule});
  }
  return out;
}

Status Cgroup::applyDeviceRules(const grpc::LinuxResources& r) {
  KATA_ASSIGN_OR_RETURN(auto rules, deviceCgroupRules(r));
  for (const auto& rule : rules) {
    KATA_TRY(write("devices", rule.allow ? "devices.allow" : "devices.deny", rule.rule, false));
  }
  return okStatus();
}

Status Cgroup::writeBlkioWeight(uint32_t weight) const {
  const Dir* d = find("blkio");
  if (!d) return write("blkio", "blkio.weight", std::to_string(weight), false);  // skipped
  // CFQ has blkio.weight; with BFQ (multi-queue block layer) it is blkio.bfq.weight.
  for (const char* file : {"blkio.weight", "blkio.bfq.weight"}) {
    if (::access((d->dir + "/" + file).c_str(), F_OK) == 0) {
      return write("blkio", file, std::to_string(weight), false);
    }
  }
  return makeError("blkio weight: this kernel has no proportional block I/O scheduler", ENOTSUP);
}

Status Cgroup::addProcess(pid_t pid) {
  for (const auto& d : dirs_) {
    // Puts the process (and its future children) under the container's limits.
    KATA_TRY(writeFileValue(d.dir + "/cgroup.procs", std::to_string(pid)));
  }
  return okStatus();
}

std::vector<pid_t> Cgroup::pids() const {
  for (const char* c : {"pids", "freezer", "memory", "cpu", "devices"}) {
    const Dir* d = find(c);
    if (!d) continue;
    auto text = readFile(d->dir + "/cgroup.procs", 16 << 20);
    if (!text.ok()) continue;
    std::vector<pid_t> out;
    std::istringstream in(*text);
    pid_t p;
    while (in >> p) out.push_back(p);
    return out;
  }
  return {};
}

Status Cgroup::freeze(bool frozen) {
  const Dir* d = find("freezer");
  if (!d) return makeError("the freezer cgroup controller is not mounted", ENOTSUP);
  const char* want = frozen ? "FROZEN" : "THAWED";
  KATA_TRY(writeFileValue(d->dir + "/freezer.state", want));
  for (int i = 0; i < 200; ++i) {
    if (readTrimmed(d->dir + "/freezer.state") == want) return okStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return makeError(std::string("cgroup did not become ") + want, ETIMEDOUT);
}

void Cgroup::stats(grpc::CgroupStats* out) const {
  if (const Dir* d = find("cpuacct")) {
    auto* usage = out->mutable_cpu_stats()->mutable_cpu_usage();
    usage->set_total_usage(readU64(d->dir + "/cpuacct.usage"));
    std::istringstream per(readTrimmed(d->dir + "/cpuacct.usage_percpu"));
    uint64_t v;
    while (per >> v) usage->add_percpu_usage(v);
    std::istringstream st(readTrimmed(d->dir + "/cpuacct.stat"));
    std::string key;
    long ticks = ::sysconf(_SC_CLK_TCK);
    while (st >> key >> v) {
      uint64_t ns = ticks > 0 ? v * (1000000000ull / static_cast<uint64_t>(ticks)) : v;
      if (key == "user") usage->set_usage_in_usermode(ns);
      if (key == "system") usage->set_usage_in_kernelmode(ns);
    }
  }
  if (const Dir* d = find("cpu")) {
    auto* t = out->mutable_cpu_stats()->mutable_throttling_data();
    std::istringstream st(readTrimmed(d->dir + "/cpu.stat"));
    std::string key;
    uint64_t v;
    while (st >> key >> v) {
      if (key == "nr_periods") t->set_periods(v);
      if (key == "nr_throttled") t->set_throttled_periods(v);
      if (key == "throttled_time") t->set_throttled_time(v);
    }
  }
  if (const Dir* d = find("memory")) {
    auto* m = out->mutable_memory_stats();
    auto* u = m->mutable_usage();
    u->set_usage(readU64(d->dir + "/memory.usage_in_bytes"));
    u->set_max_usage(readU64(d->dir + "/memory.max_usage_in_bytes"));
    u->set_failcnt(readU64(d->dir + "/memory.failcnt"));
    u->set_limit(readU64(d->dir + "/memory.limit_in_bytes"));
    auto fill = [&](grpc::MemoryData* data, const std::string& prefix) {
      data->set_usage(readU64(d->dir + "/" + prefix + ".usage_in_bytes"));
      data->set_max_usage(readU64(d->dir + "/" + prefix + ".max_usage_in_bytes"));
      data->set_failcnt(readU64(d->dir + "/" + prefix + ".failcnt"));
      data->set_limit(readU64(d->dir + "/" + prefix + ".limit_in_bytes"));
    };
    if (::access((d->dir + "/memory.memsw.usage_in_bytes").c_str(), F_OK) == 0) {
      fill(m->mutable_swap_usage(), "memory.memsw");
    }
    if (::access((d->dir + "/memory.kmem.usage_in_bytes").c_str(), F_OK) == 0) {
      fill(m->mutable_kernel_usage(), "memory.kmem");
    }
    m->set_use_hierarchy(readU64(d->dir + "/memory.use_hierarchy") != 0);
    std::istringstream st(readTrimmed(d->dir + "/memory.stat"));
    std::string key;
    uint64_t v;
    while (st >> key >> v) {
      (*m->mutable_stats())[key] = v;
      if (key == "cache") m->set_cache(v);
    }
  }
  if (const Dir* d = find("pids")) {
    out->mutable_pids_stats()->set_current(readU64(d->dir + "/pids.current"));
    out->mutable_pids_stats()->set_limit(readU64(d->dir + "/pids.max"));
  }
  if (const Dir* d = find("blkio")) blkioStats(d->dir, out->mutable_blkio_stats());
  if (const Dir* d = find("hugetlb")) {
    DIR* dir = ::opendir(d->dir.c_str());
    while (dirent* e = dir ? ::readdir(dir) : nullptr) {
      // hugetlb.<size>.usage_in_bytes, one per page size ("2MB", "1GB").
      std::string name = e->d_name;
      const std::string suffix = ".usage_in_bytes";
      if (name.rfind("hugetlb.", 0) != 0 || name.size() <= 8 + suffix.size() ||
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
        continue;
      }
      std::string size = name.substr(8, name.size() - 8 - suffix.size());
      std::string prefix = d->dir + "/hugetlb." + size;
      grpc::HugetlbStats h;
      h.set_usage(readU64(prefix + ".usage_in_bytes"));
      h.set_max_usage(readU64(prefix + ".max_usage_in_bytes"));
      h.set_failcnt(readU64(prefix + ".failcnt"));
      (*out->mutable_hugetlb_stats())[size] = h;
    }
    if (dir) ::closedir(dir);
  }
}

Result<UniqueFd> Cgroup::oomEventFd() const {
  const Dir* d = find("memory");
  if (!d) return makeError("the memory cgroup controller is not mounted", ENOTSUP);
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!efd) return sysError("eventfd");
  UniqueFd control(::open((d->dir + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC));
  if (!control) return sysError("open " + d->dir + "/memory.oom_control");
  // cgroup v1 notification API: the kernel signals efd each time the cgroup hits OOM.
  KATA_TRY(writeFileValue(d->dir + "/cgroup.event_control",
                          std::to_string(efd.get()) + " " + std::to_string(control.get())));
  return efd;
}

Status Cgroup::destroy() {
  Status result;
  for (auto& d : dirs_) {
    for (auto it = d.created.rbegin(); it != d.created.rend(); ++it) {
      bool leaf = it == d.created.rbegin();
      // Tasks that were just killed leave the cgroup asynchronously: retry the leaf briefly.
      for (int attempt = 0;; ++attempt) {
        if (::rmdir(it->c_str()) == 0 || errno == ENOENT) break;
        if (errno == EBUSY && leaf && attempt < 100) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        if (leaf && result.ok()) result = sysError("remove cgroup " + *it);
        break;
      }
    }
    d.created.clear();
  }
  return result;
}

std::vector<std::pair<std::string, std::string>> Cgroup::hierarchyDirs() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& d : dirs_) {
    auto slash = d.hierarchy.mountPoint.rfind('/');
    out.emplace_back(d.hierarchy.mountPoint.substr(slash + 1), d.dir);
  }
  return out;
}

}  // namespace kata::agent
