#include "lib/oci_spec.h"

#include <unistd.h>

#include <climits>
#include <cstring>
#include <set>

#include "lib/fs_util.h"
#include "lib/state_file.h"

namespace kata::oci {

namespace {

constexpr size_t kMaxSpecBytes = 16 << 20;

std::string join(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

std::string index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// JSON text must be UTF-8; jsoncpp passes invalid bytes through, and they would be mangled on
// the way back out, so they are rejected here.
bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; k++) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// Reads a JSON document into the typed model. The first problem is kept, with the JSON path of
// the value at fault ("process.args[0]"); later reads become no-ops once it has failed.
class Parser {
 public:
  explicit Parser(std::string what) : what_(std::move(what)) {}

  bool ok() const { return !error_.has_value(); }
  Error takeError() { return std::move(*error_); }

  void fail(const std::string& path, const std::string& message) {
    if (!error_) error_ = makeError(what_ + ": " + path + ": " + message, EINVAL);
  }

  // The member `key` of `obj`, or nullptr when absent or null (null means "not set").
  static const Json::Value* member(const Json::Value& obj, const char* key) {
    const Json::Value* v = obj.find(key, key + strlen(key));
    return (v && !v->isNull()) ? v : nullptr;
  }

  bool expectObject(const Json::Value& v, const std::string& path) {
    if (!v.isObject()) fail(path, "expected object");
    return ok();
  }

  template <class T>
  void field(const Json::Value& obj, const std::string& path, const char* key, T& out) {
    if (!ok()) return;
    if (const Json::Value* v = member(obj, key)) read(*v, join(path, key), out);
  }

  template <class T>
  void required(const Json::Value& obj, const std::string& path, const char* key, T& out) {
    if (!ok()) return;
    if (const Json::Value* v = member(obj, key)) {
      read(*v, join(path, key), out);
    } else {
      fail(join(path, key), "required");
    }
  }

  void read(const Json::Value& v, const std::string& path, std::string& out) {
    if (!v.isString()) return fail(path, "expected string");
    out = v.asString();
    if (!isValidUtf8(out)) fail(path, "invalid UTF-8");
  }

  void read(const Json::Value& v, const std::string& path, bool& out) {
    if (!v.isBool()) return fail(path, "expected boolean");
    out = v.asBool();
  }

  void read(const Json::Value& v, const std::string& path, uint64_t& out) {
    if (!v.isUInt64()) return fail(path, "expected unsigned integer");
    out = v.asUInt64();
  }

  void read(const Json::Value& v, const std::string& path, int64_t& out) {
    if (!v.isInt64()) return fail(path, "expected integer");
    out = v.asInt64();
  }

  void read(const Json::Value& v, const std::string& path, uint32_t& out) {
    if (!v.isUInt64() || v.asUInt64() > UINT32_MAX)
      return fail(path, "expected unsigned 32-bit integer");
    out = static_cast<uint32_t>(v.asUInt64());
  }

  void read(const Json::Value& v, const std::string& path, uint16_t& out) {
    if (!v.isUInt64() || v.asUInt64() > UINT16_MAX)
      return fail(path, "expected unsigned 16-bit integer");
    out = static_cast<uint16_t>(v.asUInt64());
  }

  void read(const Json::Value& v, const std::string& path, int& out) {
    if (!v.isInt64() || v.asInt64() < INT_MIN || v.asInt64() > INT_MAX)
      return fail(path, "expected 32-bit integer");
    out = static_cast<int>(v.asInt64());
  }

  template <class T>
  void read(const Json::Value& v, const std::string& path, std::vector<T>& out) {
    if (!v.isArray()) return fail(path, "expected array");
    out.clear();
    out.resize(v.size());
    for (Json::ArrayIndex i = 0; i < v.size() && ok(); i++) read(v[i], index(path, i), out[i]);
  }

  template <class T>
  void read(const Json::Value& v, const std::string& path, std::optional<T>& out) {
    out.emplace();
    read(v, path, *out);
  }

  void read(const Json::Value& v, const std::string& path,
            std::map<std::string, std::string>& out) {
    if (!expectObject(v, path)) return;
    out.clear();
    for (auto it = v.begin(); it != v.end() && ok(); ++it) {
      std::string key = it.name();
      if (!isValidUtf8(key)) return fail(path, "invalid UTF-8 in key");
      if (!it->isString()) return fail(path + "." + key, "expected string");
      out[key] = it->asString();
      if (!isValidUtf8(out[key])) return fail(path + "." + key, "invalid UTF-8");
    }
  }

  void read(const Json::Value& v, const std::string& path, Box& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "height", out.height);
    field(v, path, "width", out.width);
  }

  void read(const Json::Value& v, const std::string& path, User& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "uid", out.uid);
    field(v, path, "gid", out.gid);
    field(v, path, "umask", out.umask);
    field(v, path, "additionalGids", out.additionalGids);
    field(v, path, "username", out.username);
  }

  void read(const Json::Value& v, const std::string& path, Capabilities& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "bounding", out.bounding);
    field(v, path, "effective", out.effective);
    field(v, path, "inheritable", out.inheritable);
    field(v, path, "permitted", out.permitted);
    field(v, path, "ambient", out.ambient);
  }

  void read(const Json::Value& v, const std::string& path, Rlimit& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "type", out.type);
    field(v, path, "hard", out.hard);
    field(v, path, "soft", out.soft);
    if (ok() && out.type.rfind("RLIMIT_", 0) != 0)
      fail(join(path, "type"), "expected RLIMIT_*, got \"" + out.type + "\"");
  }

  void read(const Json::Value& v, const std::string& path, Process& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "terminal", out.terminal);
    field(v, path, "consoleSize", out.consoleSize);
    field(v, path, "user", out.user);
    required(v, path, "args", out.args);
    field(v, path, "env", out.env);
    required(v, path, "cwd", out.cwd);
    field(v, path, "capabilities", out.capabilities);
    field(v, path, "rlimits", out.rlimits);
    field(v, path, "noNewPrivileges", out.noNewPrivileges);
    field(v, path, "apparmorProfile", out.apparmorProfile);
    field(v, path, "oomScoreAdj", out.oomScoreAdj);
    field(v, path, "selinuxLabel", out.selinuxLabel);
    if (!ok()) return;
    if (out.args.empty()) return fail(join(path, "args"), "must not be empty");
    if (out.cwd.empty() || out.cwd[0] != '/')
      return fail(join(path, "cwd"), "must be an absolute path, got \"" + out.cwd + "\"");
    if (out.oomScoreAdj && (*out.oomScoreAdj < -1000 || *out.oomScoreAdj > 1000))
      return fail(join(path, "oomScoreAdj"), "expected -1000..1000");
  }

  void read(const Json::Value& v, const std::string& path, Root& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "path", out.path);
    field(v, path, "readonly", out.readonly);
    if (ok() && out.path.empty()) fail(join(path, "path"), "must not be empty");
  }

  void read(const Json::Value& v, const std::string& path, Mount& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "destination", out.destination);
    field(v, path, "type", out.type);
    field(v, path, "source", out.source);
    field(v, path, "options", out.options);
    if (ok() && (out.destination.empty() || out.destination[0] != '/')) {
      fail(join(path, "destination"), "must be an absolute path, got \"" + out.destination + "\"");
    }
  }

  void read(const Json::Value& v, const std::string& path, Hook& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "path", out.path);
    field(v, path, "args", out.args);
    field(v, path, "env", out.env);
    field(v, path, "timeout", out.timeout);
    if (!ok()) return;
    if (out.path.empty() || out.path[0] != '/')
      return fail(join(path, "path"), "must be an absolute path, got \"" + out.path + "\"");
    if (out.timeout && *out.timeout <= 0) fail(join(path, "timeout"), "must be positive");
  }

  void read(const Json::Value& v, const std::string& path, Hooks& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "prestart", out.prestart);
    field(v, path, "createRuntime", out.createRuntime);
    field(v, path, "createContainer", out.createContainer);
    field(v, path, "startContainer", out.startContainer);
    field(v, path, "poststart", out.poststart);
    field(v, path, "poststop", out.poststop);
  }

  void read(const Json::Value& v, const std::string& path, IdMapping& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "containerID", out.containerID);
    field(v, path, "hostID", out.hostID);
    field(v, path, "size", out.size);
  }

  void read(const Json::Value& v, const std::string& path, DeviceCgroup& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "allow", out.allow);
    field(v, path, "type", out.type);
    field(v, path, "major", out.major);
    field(v, path, "minor", out.minor);
    field(v, path, "access", out.access);
    if (!ok()) return;
    if (!out.type.empty() && out.type != "a" && out.type != "c" && out.type != "b")
      return fail(join(path, "type"), "expected \"a\", \"b\" or \"c\", got \"" + out.type + "\"");
    if (out.access.find_first_not_of("rwm") != std::string::npos)
      fail(join(path, "access"), "expected letters of \"rwm\", got \"" + out.access + "\"");
  }

  void read(const Json::Value& v, const std::string& path, MemoryResources& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "limit", out.limit);
    field(v, path, "reservation", out.reservation);
    field(v, path, "swap", out.swap);
    field(v, path, "kernel", out.kernel);
    field(v, path, "kernelTCP", out.kernelTCP);
    field(v, path, "swappiness", out.swappiness);
    field(v, path, "disableOOMKiller", out.disableOOMKiller);
  }

  void read(const Json::Value& v, const std::string& path, CpuResources& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "shares", out.shares);
    field(v, path, "quota", out.quota);
    field(v, path, "period", out.period);
    field(v, path, "realtimeRuntime", out.realtimeRuntime);
    field(v, path, "realtimePeriod", out.realtimePeriod);
    field(v, path, "cpus", out.cpus);
    field(v, path, "mems", out.mems);
  }

  void read(const Json::Value& v, const std::string& path, PidsResources& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "limit", out.limit);
  }

  void read(const Json::Value& v, const std::string& path, WeightDevice& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "major", out.major);
    required(v, path, "minor", out.minor);
    field(v, path, "weight", out.weight);
    field(v, path, "leafWeight", out.leafWeight);
  }

  void read(const Json::Value& v, const std::string& path, ThrottleDevice& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "major", out.major);
    required(v, path, "minor", out.minor);
    field(v, path, "rate", out.rate);
  }

  void read(const Json::Value& v, const std::string& path, BlockIoResources& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "weight", out.weight);
    field(v, path, "leafWeight", out.leafWeight);
    field(v, path, "weightDevice", out.weightDevice);
    field(v, path, "throttleReadBpsDevice", out.throttleReadBpsDevice);
    field(v, path, "throttleWriteBpsDevice", out.throttleWriteBpsDevice);
    field(v, path, "throttleReadIOPSDevice", out.throttleReadIOPSDevice);
    field(v, path, "throttleWriteIOPSDevice", out.throttleWriteIOPSDevice);
  }

  void read(const Json::Value& v, const std::string& path, HugepageLimit& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "pageSize", out.pageSize);
    field(v, path, "limit", out.limit);
  }

  void read(const Json::Value& v, const std::string& path, InterfacePriority& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "name", out.name);
    field(v, path, "priority", out.priority);
  }

  void read(const Json::Value& v, const std::string& path, NetworkResources& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "classID", out.classID);
    field(v, path, "priorities", out.priorities);
  }

  void read(const Json::Value& v, const std::string& path, Resources& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "devices", out.devices);
    field(v, path, "memory", out.memory);
    field(v, path, "cpu", out.cpu);
    field(v, path, "pids", out.pids);
    field(v, path, "blockIO", out.blockIO);
    field(v, path, "hugepageLimits", out.hugepageLimits);
    field(v, path, "network", out.network);
    field(v, path, "unified", out.unified);
  }

  void read(const Json::Value& v, const std::string& path, Namespace& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "type", out.type);
    field(v, path, "path", out.path);
    if (!ok()) return;
    if (!isKnownNamespaceType(out.type))
      return fail(join(path, "type"), "unknown namespace type \"" + out.type + "\"");
    if (!out.path.empty() && out.path[0] != '/')
      fail(join(path, "path"), "must be an absolute path, got \"" + out.path + "\"");
  }

  void read(const Json::Value& v, const std::string& path, Device& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "path", out.path);
    required(v, path, "type", out.type);
    field(v, path, "major", out.major);
    field(v, path, "minor", out.minor);
    field(v, path, "fileMode", out.fileMode);
    field(v, path, "uid", out.uid);
    field(v, path, "gid", out.gid);
    if (!ok()) return;
    if (out.path.empty() || out.path[0] != '/')
      return fail(join(path, "path"), "must be an absolute path, got \"" + out.path + "\"");
    if (out.type != "c" && out.type != "b" && out.type != "u" && out.type != "p")
      fail(join(path, "type"), "expected \"c\", \"b\", \"u\" or \"p\", got \"" + out.type + "\"");
  }

  void read(const Json::Value& v, const std::string& path, SeccompArg& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "index", out.index);
    field(v, path, "value", out.value);
    field(v, path, "valueTwo", out.valueTwo);
    required(v, path, "op", out.op);
    if (ok() && out.index > 5) fail(join(path, "index"), "expected 0..5");
  }

  void read(const Json::Value& v, const std::string& path, SyscallRule& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "names", out.names);
    required(v, path, "action", out.action);
    field(v, path, "errnoRet", out.errnoRet);
    field(v, path, "args", out.args);
    if (ok() && out.names.empty()) fail(join(path, "names"), "must not be empty");
  }

  void read(const Json::Value& v, const std::string& path, Seccomp& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "defaultAction", out.defaultAction);
    field(v, path, "defaultErrnoRet", out.defaultErrnoRet);
    field(v, path, "architectures", out.architectures);
    field(v, path, "flags", out.flags);
    field(v, path, "syscalls", out.syscalls);
  }

  void read(const Json::Value& v, const std::string& path, IntelRdt& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "closID", out.closID);
    field(v, path, "l3CacheSchema", out.l3CacheSchema);
    field(v, path, "memBwSchema", out.memBwSchema);
  }

  void read(const Json::Value& v, const std::string& path, Personality& out) {
    if (!expectObject(v, path)) return;
    required(v, path, "domain", out.domain);
    field(v, path, "flags", out.flags);
    if (ok() && out.domain != "LINUX" && out.domain != "LINUX32")
      fail(join(path, "domain"), "expected \"LINUX\" or \"LINUX32\", got \"" + out.domain + "\"");
  }

  void read(const Json::Value& v, const std::string& path, Linux& out) {
    if (!expectObject(v, path)) return;
    field(v, path, "uidMappings", out.uidMappings);
    field(v, path, "gidMappings", out.gidMappings);
    field(v, path, "sysctl", out.sysctl);
    field(v, path, "resources", out.resources);
    field(v, path, "cgroupsPath", out.cgroupsPath);
    field(v, path, "namespaces", out.namespaces);
    field(v, path, "devices", out.devices);
    field(v, path, "seccomp", out.seccomp);
    field(v, path, "rootfsPropagation", out.rootfsPropagation);
    field(v, path, "maskedPaths", out.maskedPaths);
    field(v, path, "readonlyPaths", out.readonlyPaths);
    field(v, path, "mountLabel", out.mountLabel);
    field(v, path, "intelRdt", out.intelRdt);
    field(v, path, "personality", out.personality);
    if (!ok()) return;
    std::set<std::string> seen;
    for (size_t i = 0; i < out.namespaces.size(); i++) {
      if (!seen.insert(out.namespaces[i].type).second) {
        return fail(index(join(path, "namespaces"), i),
                    "duplicate namespace type \"" + out.namespaces[i].type + "\"");
      }
    }
    static const std::set<std::string> kPropagation = {"",        "shared",     "slave",
                                                       "private", "unbindable", "rshared",
                                                       "rslave",  "rprivate",   "runbindable"};
    if (!kPropagation.count(out.rootfsPropagation)) {
      fail(join(path, "rootfsPropagation"),
           "unknown propagation \"" + out.rootfsPropagation + "\"");
    }
  }

  void read(const Json::Value& v, const std::string& path, Spec& out) {
    if (!expectObject(v, path.empty() ? "(document)" : path)) return;
    required(v, path, "ociVersion", out.ociVersion);
    field(v, path, "process", out.process);
    required(v, path, "root", out.root);
    field(v, path, "hostname", out.hostname);
    field(v, path, "mounts", out.mounts);
    field(v, path, "hooks", out.hooks);
    field(v, path, "annotations", out.annotations);
    field(v, path, "linux", out.linux);
    if (ok() && out.ociVersion.empty()) fail("ociVersion", "must not be empty");
  }

 private:
  std::string what_;
  std::optional<Error> error_;
};

// Runs a parse over text, turning a JSON syntax error or an unexpected jsoncpp exception into
// an Error: a hostile document must never take the process down.
template <class T>
Result<T> parseDocument(std::string_view json, const std::string& what) {
  try {
    KATA_ASSIGN_OR_RETURN(Json::Value root, parseJson(json, what));
    Parser parser(what);
    T out{};
    parser.read(root, "", out);
    if (!parser.ok()) return parser.takeError();
    return out;
  } catch (const std::exception& e) {
    return makeError(what + ": " + e.what(), EINVAL);
  }
}

// ---- serialization ----

Json::Value value(const std::string& s) { return Json::Value(s); }
Json::Value value(bool b) { return Json::Value(b); }
Json::Value value(uint64_t n) { return Json::Value(static_cast<Json::UInt64>(n)); }
Json::Value value(int64_t n) { return Json::Value(static_cast<Json::Int64>(n)); }
Json::Value value(uint32_t n) { return Json::Value(static_cast<Json::UInt>(n)); }
Json::Value value(uint16_t n) { return Json::Value(static_cast<Json::UInt>(n)); }
Json::Value value(int n) { return Json::Value(n); }

Json::Value value(const Box& b);
Json::Value value(const User& u);
Json::Value value(const Capabilities& c);
Json::Value value(const Rlimit& r);
Json::Value value(const Mount& m);
Json::Value value(const Hook& h);
Json::Value value(const IdMapping& m);
Json::Value value(const DeviceCgroup& d);
Json::Value value(const MemoryResources& m);
Json::Value value(const CpuResources& c);
Json::Value value(const PidsResources& p);
Json::Value value(const WeightDevice& w);
Json::Value value(const ThrottleDevice& t);
Json::Value value(const BlockIoResources& b);
Json::Value value(const HugepageLimit& h);
Json::Value value(const InterfacePriority& p);
Json::Value value(const NetworkResources& n);
Json::Value value(const Namespace& n);
Json::Value value(const Device& d);
Json::Value value(const SeccompArg& a);
Json::Value value(const SyscallRule& r);
Json::Value value(const Seccomp& s);
Json::Value value(const IntelRdt& r);
Json::Value value(const Personality& p);
Json::Value value(const Linux& l);
Json::Value value(const Resources& r);
Json::Value value(const Process& p);
Json::Value value(const Hooks& h);

template <class T>
Json::Value value(const std::vector<T>& items) {
  Json::Value array(Json::arrayValue);
  for (const auto& item : items) array.append(value(item));
  return array;
}

Json::Value value(const std::map<std::string, std::string>& m) {
  Json::Value obj(Json::objectValue);
  for (const auto& [k, v] : m) obj[k] = v;
  return obj;
}

// Emitters that leave out what the parser would read back as the same default.
void put(Json::Value& obj, const char* key, const std::string& s) {
  if (!s.empty()) obj[key] = s;
}
template <class T>
void put(Json::Value& obj, const char* key, const std::vector<T>& items) {
  if (!items.empty()) obj[key] = value(items);
}
void put(Json::Value& obj, const char* key, const std::map<std::string, std::string>& m) {
  if (!m.empty()) obj[key] = value(m);
}
template <class T>
void put(Json::Value& obj, const char* key, const std::optional<T>& v) {
  if (v) obj[key] = value(*v);
}

Json::Value value(const Box& b) {
  Json::Value o(Json::objectValue);
  o["height"] = value(b.height);
  o["width"] = value(b.width);
  return o;
}

Json::Value value(const User& u) {
  Json::Value o(Json::objectValue);
  o["uid"] = value(u.uid);
  o["gid"] = value(u.gid);
  put(o, "umask", u.umask);
  put(o, "additionalGids", u.additionalGids);
  put(o, "username", u.username);
  return o;
}

Json::Value value(const Capabilities& c) {
  Json::Value o(Json::objectValue);
  put(o, "bounding", c.bounding);
  put(o, "effective", c.effective);
  put(o, "inheritable", c.inheritable);
  put(o, "permitted", c.permitted);
  put(o, "ambient", c.ambient);
  return o;
}

Json::Value value(const Rlimit& r) {
  Json::Value o(Json::objectValue);
  o["type"] = r.type;
  o["hard"] = value(r.hard);
  o["soft"] = value(r.soft);
  return o;
}

Json::Value value(const Mount& m) {
  Json::Value o(Json::objectValue);
  o["destination"] = m.destination;
  put(o, "type", m.type);
  put(o, "source", m.source);
  put(o, "options", m.options);
  return o;
}

Json::Value value(const Hook& h) {
  Json::Value o(Json::objectValue);
  o["path"] = h.path;
  put(o, "args", h.args);
  put(o, "env", h.env);
  put(o, "timeout", h.timeout);
  return o;
}

Json::Value value(const IdMapping& m) {
  Json::Value o(Json::objectValue);
  o["containerID"] = value(m.containerID);
  o["hostID"] = value(m.hostID);
  o["size"] = value(m.size);
  return o;
}

Json::Value value(const DeviceCgroup& d) {
  Json::Value o(Json::objectValue);
  o["allow"] = d.allow;
  put(o, "type", d.type);
  put(o, "major", d.major);
  put(o, "minor", d.minor);
  put(o, "access", d.access);
  return o;
}

Json::Value value(const MemoryResources& m) {
  Json::Value o(Json::objectValue);
  put(o, "limit", m.limit);
  put(o, "reservation", m.reservation);
  put(o, "swap", m.swap);
  put(o, "kernel", m.kernel);
  put(o, "kernelTCP", m.kernelTCP);
  put(o, "swappiness", m.swappiness);
  put(o, "disableOOMKiller", m.disableOOMKiller);
  return o;
}

Json::Value value(const CpuResources& c) {
  Json::Value o(Json::objectValue);
  put(o, "shares", c.shares);
  put(o, "quota", c.quota);
  put(o, "period", c.period);
  put(o, "realtimeRuntime", c.realtimeRuntime);
  put(o, "realtimePeriod", c.realtimePeriod);
  put(o, "cpus", c.cpus);
  put(o, "mems", c.mems);
  return o;
}

Json::Value value(const PidsResources& p) {
  Json::Value o(Json::objectValue);
  o["limit"] = value(p.limit);
  return o;
}

Json::Value value(const WeightDevice& w) {
  Json::Value o(Json::objectValue);
  o["major"] = value(w.major);
  o["minor"] = value(w.minor);
  put(o, "weight", w.weight);
  put(o, "leafWeight", w.leafWeight);
  return o;
}

Json::Value value(const ThrottleDevice& t) {
  Json::Value o(Json::objectValue);
  o["major"] = value(t.major);
  o["minor"] = value(t.minor);
  o["rate"] = value(t.rate);
  return o;
}

Json::Value value(const BlockIoResources& b) {
  Json::Value o(Json::objectValue);
  put(o, "weight", b.weight);
  put(o, "leafWeight", b.leafWeight);
  put(o, "weightDevice", b.weightDevice);
  put(o, "throttleReadBpsDevice", b.throttleReadBpsDevice);
  put(o, "throttleWriteBpsDevice", b.throttleWriteBpsDevice);
  put(o, "throttleReadIOPSDevice", b.throttleReadIOPSDevice);
  put(o, "throttleWriteIOPSDevice", b.throttleWriteIOPSDevice);
  return o;
}

Json::Value value(const HugepageLimit& h) {
  Json::Value o(Json::objectValue);
  o["pageSize"] = h.pageSize;
  o["limit"] = value(h.limit);
  return o;
}

Json::Value value(const InterfacePriority& p) {
  Json::Value o(Json::objectValue);
  o["name"] = p.name;
  o["priority"] = value(p.priority);
  return o;
}

Json::Value value(const NetworkResources& n) {
  Json::Value o(Json::objectValue);
  put(o, "classID", n.classID);
  put(o, "priorities", n.priorities);
  return o;
}

Json::Value value(const Namespace& n) {
  Json::Value o(Json::objectValue);
  o["type"] = n.type;
  put(o, "path", n.path);
  return o;
}

Json::Value value(const Device& d) {
  Json::Value o(Json::objectValue);
  o["path"] = d.path;
  o["type"] = d.type;
  o["major"] = value(d.major);
  o["minor"] = value(d.minor);
  put(o, "fileMode", d.fileMode);
  put(o, "uid", d.uid);
  put(o, "gid", d.gid);
  return o;
}

Json::Value value(const SeccompArg& a) {
  Json::Value o(Json::objectValue);
  o["index"] = value(a.index);
  o["value"] = value(a.value);
  if (a.valueTwo) o["valueTwo"] = value(a.valueTwo);
  o["op"] = a.op;
  return o;
}

Json::Value value(const SyscallRule& r) {
  Json::Value o(Json::objectValue);
  o["names"] = value(r.names);
  o["action"] = r.action;
  put(o, "errnoRet", r.errnoRet);
  put(o, "args", r.args);
  return o;
}

Json::Value value(const Seccomp& s) {
  Json::Value o(Json::objectValue);
  o["defaultAction"] = s.defaultAction;
  put(o, "defaultErrnoRet", s.defaultErrnoRet);
  put(o, "architectures", s.architectures);
  put(o, "flags", s.flags);
  put(o, "syscalls", s.syscalls);
  return o;
}

Json::Value value(const IntelRdt& r) {
  Json::Value o(Json::objectValue);
  put(o, "closID", r.closID);
  put(o, "l3CacheSchema", r.l3CacheSchema);
  put(o, "memBwSchema", r.memBwSchema);
  return o;
}

Json::Value value(const Personality& p) {
  Json::Value o(Json::objectValue);
  o["domain"] = p.domain;
  put(o, "flags", p.flags);
  return o;
}

Json::Value value(const Resources& r) {
  Json::Value o(Json::objectValue);
  put(o, "devices", r.devices);
  put(o, "memory", r.memory);
  put(o, "cpu", r.cpu);
  put(o, "pids", r.pids);
  put(o, "blockIO", r.blockIO);
  put(o, "hugepageLimits", r.hugepageLimits);
  put(o, "unified", r.unified);
  put(o, "network", r.network);
  return o;
}

Json::Value value(const Linux& l) {
  Json::Value o(Json::objectValue);
  put(o, "uidMappings", l.uidMappings);
  put(o, "gidMappings", l.gidMappings);
  put(o, "sysctl", l.sysctl);
  put(o, "resources", l.resources);
  put(o, "cgroupsPath", l.cgroupsPath);
  put(o, "namespaces", l.namespaces);
  put(o, "devices", l.devices);
  put(o, "seccomp", l.seccomp);
  put(o, "rootfsPropagation", l.rootfsPropagation);
  put(o, "maskedPaths", l.maskedPaths);
  put(o, "readonlyPaths", l.readonlyPaths);
  put(o, "mountLabel", l.mountLabel);
  put(o, "intelRdt", l.intelRdt);
  put(o, "personality", l.personality);
  return o;
}

Json::Value value(const Process& p) {
  Json::Value o(Json::objectValue);
  if (p.terminal) o["terminal"] = true;
  put(o, "consoleSize", p.consoleSize);
  o["user"] = value(p.user);
  o["args"] = value(p.args);
  put(o, "env", p.env);
  o["cwd"] = p.cwd;
  put(o, "capabilities", p.capabilities);
  put(o, "rlimits", p.rlimits);
  if (p.noNewPrivileges) o["noNewPrivileges"] = true;
  put(o, "apparmorProfile", p.apparmorProfile);
  put(o, "oomScoreAdj", p.oomScoreAdj);
  put(o, "selinuxLabel", p.selinuxLabel);
  return o;
}

Json::Value value(const Hooks& h) {
  Json::Value o(Json::objectValue);
  put(o, "prestart", h.prestart);
  put(o, "createRuntime", h.createRuntime);
  put(o, "createContainer", h.createContainer);
  put(o, "startContainer", h.startContainer);
  put(o, "poststart", h.poststart);
  put(o, "poststop", h.poststop);
  return o;
}

}  // namespace

bool isKnownNamespaceType(std::string_view type) {
  return type == "pid" || type == "network" || type == "mount" || type == "ipc" || type == "uts" ||
         type == "user" || type == "cgroup";
}

const Namespace* Linux::findNamespace(std::string_view type) const {
  for (const auto& ns : namespaces) {
    if (ns.type == type) return &ns;
  }
  return nullptr;
}

Result<Spec> parseSpec(std::string_view json) { return parseDocument<Spec>(json, "config.json"); }

Result<Spec> loadSpec(const std::string& bundleDir) {
  std::string path = (bundleDir.empty() ? "." : bundleDir) + "/config.json";
  if (access(bundleDir.empty() ? "." : bundleDir.c_str(), F_OK) != 0)
    return sysError("bundle " + bundleDir);
  auto text = readFile(path, kMaxSpecBytes);
  if (!text.ok()) return std::move(text).error();
  auto spec = parseDocument<Spec>(*text, path);
  return spec;
}

Result<Process> parseProcess(std::string_view json, const std::string& what) {
  return parseDocument<Process>(json, what);
}

Result<Resources> parseResources(std::string_view json, const std::string& what) {
  return parseDocument<Resources>(json, what);
}

Json::Value toJson(const Spec& spec) {
  Json::Value o(Json::objectValue);
  o["ociVersion"] = spec.ociVersion;
  put(o, "process", spec.process);
  Json::Value root(Json::objectValue);
  root["path"] = spec.root.path;
  if (spec.root.readonly) root["readonly"] = true;
  o["root"] = root;
  put(o, "hostname", spec.hostname);
  put(o, "mounts", spec.mounts);
  if (!spec.hooks.empty()) o["hooks"] = value(spec.hooks);
  put(o, "annotations", spec.annotations);
  put(o, "linux", spec.linux);
  return o;
}

Json::Value toJson(const Process& process) { return value(process); }
Json::Value toJson(const Resources& resources) { return value(resources); }

Spec defaultSpec(bool rootless) {
  Spec s;
  Process p;
  p.terminal = true;
  p.args = {"sh"};
  p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
  p.cwd = "/";
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  // No inheritable set: runc 1.1 left it out (CVE-2022-29162), so its ambient set is not raised.
  p.capabilities = Capabilities{caps, caps, {}, caps, caps};
  p.rlimits = {{"RLIMIT_NOFILE", 1024, 1024}};
  p.noNewPrivileges = true;
  s.process = p;
  s.root = {"rootfs", true};
  s.hostname = "kata";
  s.mounts = {
      {"/proc", "proc", "proc", {}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts",
       "devpts",
       "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };
  Linux l;
  Resources r;
  r.devices = {DeviceCgroup{false, "", std::nullopt, std::nullopt, "rwm"}};
  l.resources = r;
  l.namespaces = {{"pid", ""}, {"network", ""}, {"ipc", ""}, {"uts", ""}, {"mount", ""}};
  l.maskedPaths = {"/proc/acpi",        "/proc/asound",        "/proc/kcore",
                   "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                   "/proc/timer_stats", "/proc/sched_debug",   "/sys/firmware",
                   "/proc/scsi"};
  l.readonlyPaths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  if (rootless) {
    // An unprivileged user can only map itself, cannot create a network namespace of use,
    // mount sysfs or cgroupfs, or use the device cgroup.
    l.namespaces = {{"pid", ""}, {"ipc", ""}, {"uts", ""}, {"mount", ""}, {"user", ""}};
    l.uidMappings = {{0, static_cast<uint32_t>(getuid()), 1}};
    l.gidMappings = {{0, static_cast<uint32_t>(getgid()), 1}};
    l.resources.reset();
    std::vector<Mount> mounts;
    for (auto& m : s.mounts) {
      if (m.destination == "/sys/fs/cgroup") continue;
      if (m.destination == "/sys") {
        m = {"/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}};
      }
      if (m.destination == "/dev/pts") std::erase(m.options, std::string("gid=5"));
      mounts.push_back(m);
    }
    s.mounts = mounts;
  }
  s.linux = l;
  return s;
}

}  // namespace kata::oci
