#include "runtime/virtcontainers/store.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "lib/container_id.h"
#include "lib/fs_util.h"
#include "runtime/virtcontainers/host_cgroup.h"
#include "runtime/virtcontainers/shared_dir.h"

namespace kata::vc {
namespace {

Json::Value refToJson(const ProcessRef& r) {
  Json::Value v(Json::objectValue);
  v["pid"] = r.pid;
  v["start_time"] = Json::UInt64(r.startTime);
  return v;
}

// Field readers that reject wrong types with the file and key in the message.
struct Reader {
  const Json::Value& v;
  std::string what;
  Error err(const std::string& key, const char* want) const {
    return makeError(what + ": " + key + ": expected " + want, EINVAL);
  }
  Result<std::string> str(const std::string& key, bool required = true) const {
    if (!v.isMember(key)) {
      if (required) return makeError(what + ": missing " + key, EINVAL);
      return std::string();
    }
    if (!v[key].isString()) return err(key, "string");
    return v[key].asString();
  }
  Result<bool> boolean(const std::string& key) const {
    if (!v.isMember(key)) return false;
    if (!v[key].isBool()) return err(key, "boolean");
    return v[key].asBool();
  }
  Result<ProcessRef> ref(const std::string& key) const {
    if (!v.isMember(key)) return ProcessRef{};
    const Json::Value& r = v[key];
    if (!r.isObject() || !r["pid"].isInt() || !r["start_time"].isUInt64())
      return err(key, "{pid, start_time}");
    return ProcessRef{r["pid"].asInt(), r["start_time"].asUInt64()};
  }
  Result<std::vector<std::string>> strings(const std::string& key) const {
    std::vector<std::string> out;
    if (!v.isMember(key)) return out;
    if (!v[key].isArray()) return err(key, "array of strings");
    for (const auto& e : v[key]) {
      if (!e.isString()) return err(key, "array of strings");
      out.push_back(e.asString());
    }
    return out;
  }
};

Json::Value jsonStrings(const std::vector<std::string>& items) {
  Json::Value list(Json::arrayValue);
  for (const auto& i : items) list.append(i);
  return list;
}

std::string containerFile(const std::string& sid, const std::string& cid) {
  return StorePaths::sandboxDir(sid) + "/" + cid + "/state.json";
}

}  // namespace

std::string StorePaths::runDir() {
  const char* env = getenv("KATA_VC_RUN_DIR");
  return env && *env ? env : "/run";
}

Status saveSandbox(const SandboxState& s) {
  Json::Value v(Json::objectValue);
  v["id"] = s.id;
  v["qemu"] = refToJson(s.qemu);
  v["proxy"] = refToJson(s.proxy);
  v["virtiofsd"] = refToJson(s.virtiofsd);
  v["agent_url"] = s.agentUrl;
  v["accelerator"] = s.accelerator;
  v["config_path"] = s.configPath;
  v["created"] = s.created;
  v["containers"] = jsonStrings(s.containers);
  v["vcpus"] = s.vcpus;
  v["memory_mib"] = s.memoryMiB;
  if (!s.hostCgroup.empty()) v["host_cgroup"] = s.hostCgroup;
  if (s.agentRelayInProcess) v["agent_relay_in_process"] = true;
  if (!s.netns.empty()) {
    v["netns"] = s.netns;
    v["net_interfaces"] = jsonStrings(s.netInterfaces);
    v["net_taps"] = jsonStrings(s.netTaps);
  }
  return writeJsonAtomic(StorePaths::sandboxDir(s.id) + "/sandbox.json", v);
}

Result<SandboxState> loadSandbox(const std::string& sid) {
  KATA_TRY(validateContainerId(sid));
  const std::string path = StorePaths::sandboxDir(sid) + "/sandbox.json";
  auto v = readJsonFile(path);
  if (!v.ok()) {
    if (v.error().code == ENOENT) return makeError("sandbox " + sid + " does not exist", ENOENT);
    return std::move(v).error();
  }
  if (!v->isObject()) return makeError(path + ": expected an object", EINVAL);
  Reader r{*v, path};
  SandboxState s;
  KATA_ASSIGN_OR_RETURN(s.id, r.str("id"));
  if (s.id != sid) return makeError(path + ": id does not match its directory", EINVAL);
  KATA_ASSIGN_OR_RETURN(s.qemu, r.ref("qemu"));
  KATA_ASSIGN_OR_RETURN(s.proxy, r.ref("proxy"));
  KATA_ASSIGN_OR_RETURN(s.virtiofsd, r.ref("virtiofsd"));
  KATA_ASSIGN_OR_RETURN(s.agentUrl, r.str("agent_url"));
  KATA_ASSIGN_OR_RETURN(s.accelerator, r.str("accelerator", false));
  KATA_ASSIGN_OR_RETURN(s.configPath, r.str("config_path", false));
  KATA_ASSIGN_OR_RETURN(s.created, r.str("created", false));
  KATA_ASSIGN_OR_RETURN(s.containers, r.strings("containers"));
  for (const auto& c : s.containers) KATA_TRY_CTX(validateContainerId(c), path);
  KATA_ASSIGN_OR_RETURN(s.netns, r.str("netns", false));
  KATA_ASSIGN_OR_RETURN(s.hostCgroup, r.str("host_cgroup", false));
  KATA_ASSIGN_OR_RETURN(s.agentRelayInProcess, r.boolean("agent_relay_in_process"));
  if (!s.hostCgroup.empty()) {
    // A path hostCgroupPath made is its own result: no "..", no empty or relative parts.
    auto clean = hostCgroupPath(s.hostCgroup);
    if (s.hostCgroup[0] != '/' || !clean.ok() || *clean != s.hostCgroup)
      return makeError(path + ": host_cgroup: expected a clean absolute path", EINVAL);
  }
  for (auto [key, field] : {std::pair{"vcpus", &s.vcpus}, std::pair{"memory_mib", &s.memoryMiB}}) {
    if (v->isMember(key) && !(*v)[key].isInt())
      return makeError(path + ": " + key + ": expected an integer", EINVAL);
    *field = v->get(key, 0).asInt();
  }
  KATA_ASSIGN_OR_RETURN(s.netInterfaces, r.strings("net_interfaces"));
  KATA_ASSIGN_OR_RETURN(s.netTaps, r.strings("net_taps"));
  if (s.netInterfaces.size() != s.netTaps.size())
    return makeError(path + ": net_interfaces and net_taps differ in length", EINVAL);
  if (!s.netns.empty() && s.netns[0] != '/')
    return makeError(path + ": netns: expected an absolute path", EINVAL);
  for (const auto* names : {&s.netInterfaces, &s.netTaps}) {
    for (const auto& n : *names) {
      if (n.empty() || n.size() >= 16 || n.find_first_of("/ \t\n:") != std::string::npos)
        return makeError(path + ": \"" + n.substr(0, 32) + "\" is not an interface name", EINVAL);
    }
  }
  return s;
}

Status saveContainer(const ContainerState& c) {
  Json::Value v(Json::objectValue);
  v["id"] = c.id;
  v["sandbox"] = c.sandboxId;
  v["bundle"] = c.bundle;
  v["status"] = c.status;
  v["shim"] = refToJson(c.shim);
  v["terminal"] = c.terminal;
  v["created"] = c.created;
  v["host_mounts"] = jsonStrings(c.hostMounts);
  Json::Value ann(Json::objectValue);
  for (const auto& [k, val] : c.annotations) ann[k] = val;
  v["annotations"] = ann;
  v["hooks"] = c.hooks.isNull() ? Json::Value(Json::objectValue) : c.hooks;
  Json::Value execs(Json::objectValue);
  for (const auto& [id, e] : c.execs) {
    Json::Value ev(Json::objectValue);
    ev["shim"] = refToJson(e.shim);
    ev["terminal"] = e.terminal;
    execs[id] = ev;
  }
  v["execs"] = execs;
  KATA_TRY(mkdirAll(StorePaths::sandboxDir(c.sandboxId) + "/" + c.id, 0700));
  return writeJsonAtomic(containerFile(c.sandboxId, c.id), v);
}

Result<ContainerState> loadContainer(const std::string& sid, const std::string& cid) {
  KATA_TRY(validateContainerId(cid));
  const std::string path = containerFile(sid, cid);
  auto v = readJsonFile(path);
  if (!v.ok()) {
    if (v.error().code == ENOENT) return makeError("container " + cid + " does not exist", ENOENT);
    return std::move(v).error();
  }
  if (!v->isObject()) return makeError(path + ": expected an object", EINVAL);
  Reader r{*v, path};
  ContainerState c;
  KATA_ASSIGN_OR_RETURN(c.id, r.str("id"));
  KATA_ASSIGN_OR_RETURN(c.sandboxId, r.str("sandbox"));
  if (c.id != cid || c.sandboxId != sid)
    return makeError(path + ": ids do not match its directory", EINVAL);
  KATA_ASSIGN_OR_RETURN(c.bundle, r.str("bundle"));
  KATA_ASSIGN_OR_RETURN(c.status, r.str("status"));
  KATA_ASSIGN_OR_RETURN(c.shim, r.ref("shim"));
  KATA_ASSIGN_OR_RETURN(c.terminal, r.boolean("terminal"));
  KATA_ASSIGN_OR_RETURN(c.created, r.str("created", false));
  KATA_ASSIGN_OR_RETURN(c.hostMounts, r.strings("host_mounts"));
  for (const auto& m : c.hostMounts) {
    if (!shared::isContainerMount(sid, cid, m))
      return makeError(path + ": host_mounts: " + m + " is not a mount of this container", EINVAL);
  }
  const Json::Value& ann = (*v)["annotations"];
  if (ann.isObject()) {
    for (const auto& k : ann.getMemberNames()) {
      if (!ann[k].isString()) return r.err("annotations." + k, "string");
      c.annotations[k] = ann[k].asString();
    }
  }
  c.hooks = (*v)["hooks"];
  const Json::Value& execs = (*v)["execs"];
  if (execs.isObject()) {
    for (const auto& id : execs.getMemberNames()) {
      Reader er{execs[id], path + ": execs." + id};
      ExecState e;
      e.id = id;
      KATA_ASSIGN_OR_RETURN(e.shim, er.ref("shim"));
      KATA_ASSIGN_OR_RETURN(e.terminal, er.boolean("terminal"));
      c.execs[id] = e;
    }
  }
  return c;
}

Result<FileLock> lockSandbox(const std::string& sid, FileLock::Mode mode, int timeoutMs) {
  KATA_TRY(validateContainerId(sid));
  KATA_TRY(mkdirAll(StorePaths::locksDir(), 0700));
  // The lock lives outside the sandbox dir so that removing the dir while holding it does not
  // let a second command lock a fresh file of the same name; in a directory of its own so that
  // no container id names another sandbox's lock file.
  return FileLock::acquire(StorePaths::lockFile(sid), mode, timeoutMs);
}

Status indexAdd(const std::string& root, const std::string& cid, const std::string& sid,
                const std::string& bundle) {
  KATA_TRY(mkdirAll(root, 0711));
  Json::Value v(Json::objectValue);
  v["id"] = cid;
  v["sandbox"] = sid;
  v["bundle"] = bundle;
  const std::string path = root + "/" + cid + ".json";
  auto written = writeJsonAtomic(path, v, 0600, true);
  if (!written.ok() && written.error().code == EEXIST)
    return makeError("container " + cid + " already exists", EEXIST);
  return written;
}

Result<std::string> indexLookup(const std::string& root, const std::string& cid) {
  KATA_TRY(validateContainerId(cid));
  const std::string path = root + "/" + cid + ".json";
  auto v = readJsonFile(path, 64 << 10);
  if (!v.ok()) {
    if (v.error().code == ENOENT) return makeError("container " + cid + " does not exist", ENOENT);
    return std::move(v).error();
  }
  Reader r{*v, path};
  KATA_ASSIGN_OR_RETURN(std::string sid, r.str("sandbox"));
  KATA_TRY_CTX(validateContainerId(sid), path);
  return sid;
}

Status indexRemove(const std::string& root, const std::string& cid) {
  const std::string path = root + "/" + cid + ".json";
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return sysError("remove " + path);
  return okStatus();
}

Result<std::vector<std::string>> indexList(const std::string& root) {
  std::vector<std::string> ids;
  auto names = listDir(root);
  if (!names.ok()) {
    if (names.error().code == ENOENT) return ids;
    return std::move(names).error();
  }
  for (const auto& name : *names) {
    if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    std::string id = name.substr(0, name.size() - 5);
    if (validateContainerId(id).ok()) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace kata::vc
