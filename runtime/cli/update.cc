// kata-runtime update: new cgroup limits for a running container (runc's flags, or a
// LinuxResources JSON document with --resources).
#include <algorithm>
#include <iostream>
#include <iterator>
#include <limits>

#include "lib/fs_util.h"
#include "lib/parse.h"
#include "runtime/cli/cli.h"

namespace kata::cli {
namespace {

// "512m", "1.5g", "1024k", "4096" (bytes), units k m g t with an optional "i" and "b" in any
// case, as docker's RAMInBytes; -1 means unlimited.
Result<int64_t> parseBytes(const std::string& text, const std::string& flag) {
  const std::string what = "--" + flag;
  if (text == "-1") return int64_t(-1);
  std::string_view t(text);
  size_t numberEnd = std::min(t.find_first_not_of("0123456789."), t.size());
  std::string_view number = t.substr(0, numberEnd);
  std::string unit(t.substr(numberEnd));
  for (char& c : unit) c = char(tolower(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (!unit.empty() && unit.back() == 'i') unit.pop_back();
  int64_t mult = 1;
  if (unit == "k")
    mult = int64_t(1) << 10;
  else if (unit == "m")
    mult = int64_t(1) << 20;
  else if (unit == "g")
    mult = int64_t(1) << 30;
  else if (unit == "t")
    mult = int64_t(1) << 40;
  else if (!unit.empty())
    return makeError(what + ": \"" + text.substr(0, 32) + "\" has an unknown unit (k, m, g, t)",
                     EINVAL);
  if (number.empty())
    return makeError(what + ": \"" + text.substr(0, 32) + "\" is not a size (e.g. 512m)", EINVAL);
  size_t dot = number.find('.');
  KATA_ASSIGN_OR_RETURN(int64_t whole, parseInt<int64_t>(number.substr(0, dot), what));
  if (whole > std::numeric_limits<int64_t>::max() / mult)
    return makeError(what + ": \"" + text.substr(0, 32) + "\" is out of range", ERANGE);
  int64_t bytes = whole * mult;
  if (dot != std::string_view::npos) {
    std::string_view frac = number.substr(dot + 1);
    if (frac.empty() || frac.size() > 9)
      return makeError(what + ": \"" + text.substr(0, 32) + "\" is not a size", EINVAL);
    KATA_ASSIGN_OR_RETURN(int64_t f, parseInt<int64_t>(frac, what));
    int64_t scale = 1;
    for (size_t i = 0; i < frac.size(); i++) scale *= 10;
    // f < 10^9 and mult <= 2^40: the product fits 128 bits.
    int64_t part = int64_t((__int128(f) * mult) / scale);
    if (bytes > std::numeric_limits<int64_t>::max() - part)
      return makeError(what + ": \"" + text.substr(0, 32) + "\" is out of range", ERANGE);
    bytes += part;
  }
  return bytes;
}

Result<oci::Resources> resourcesFromFlags(const Context& ctx) {
  oci::Resources r;
  if (ctx.args.has("resources")) {
    const std::string src = ctx.args.get("resources");
    std::string text;
    if (src == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      KATA_ASSIGN_OR_RETURN(text, readFile(src, 1 << 20));
    }
    KATA_ASSIGN_OR_RETURN(r, oci::parseResources(text, src == "-" ? "stdin" : src));
  }
  auto mem = [&r]() -> oci::MemoryResources& {
    if (!r.memory) r.memory = oci::MemoryResources{};
    return *r.memory;
  };
  auto cpu = [&r]() -> oci::CpuResources& {
    if (!r.cpu) r.cpu = oci::CpuResources{};
    return *r.cpu;
  };
  const auto& a = ctx.args;
  if (a.has("memory")) { KATA_ASSIGN_OR_RETURN(mem().limit, parseBytes(a.get("memory"), "memory")); }
  if (a.has("memory-reservation")) {
    KATA_ASSIGN_OR_RETURN(mem().reservation, parseBytes(a.get("memory-reservation"), "memory-reservation"));
  }
  if (a.has("memory-swap")) { KATA_ASSIGN_OR_RETURN(mem().swap, parseBytes(a.get("memory-swap"), "memory-swap")); }
  if (a.has("kernel-memory")) { KATA_ASSIGN_OR_RETURN(mem().kernel, parseBytes(a.get("kernel-memory"), "kernel-memory")); }
  if (a.has("kernel-memory-tcp")) {
    KATA_ASSIGN_OR_RETURN(mem().kernelTCP, parseBytes(a.get("kernel-memory-tcp"), "kernel-memory-tcp"));
  }
  if (a.has("cpu-share")) {
    KATA_ASSIGN_OR_RETURN(cpu().shares, parseInt<uint64_t>(a.get("cpu-share"), "--cpu-share"));
  }
  if (a.has("cpu-quota")) {
    KATA_ASSIGN_OR_RETURN(cpu().quota, parseInt<int64_t>(a.get("cpu-quota"), "--cpu-quota"));
  }
  if (a.has("cpu-period")) {
    KATA_ASSIGN_OR_RETURN(cpu().period, parseInt<uint64_t>(a.get("cpu-period"), "--cpu-period"));
  }
  if (a.has("cpu-rt-runtime")) {
    KATA_ASSIGN_OR_RETURN(cpu().realtimeRuntime,
                          parseInt<int64_t>(a.get("cpu-rt-runtime"), "--cpu-rt-runtime"));
  }
  if (a.has("cpu-rt-period")) {
    KATA_ASSIGN_OR_RETURN(cpu().realtimePeriod,
                          parseInt<uint64_t>(a.get("cpu-rt-period"), "--cpu-rt-period"));
  }
  if (a.has("cpuset-cpus")) cpu().cpus = a.get("cpuset-cpus");
  if (a.has("cpuset-mems")) cpu().mems = a.get("cpuset-mems");
  if (a.has("pids-limit")) {
    KATA_ASSIGN_OR_RETURN(int64_t v, parseInt<int64_t>(a.get("pids-limit"), "--pids-limit"));
    r.pids = oci::PidsResources{v};
  }
  if (a.has("blkio-weight")) {
    KATA_ASSIGN_OR_RETURN(int64_t v, parseInt<int64_t>(a.get("blkio-weight"), "--blkio-weight"));
    if (v < 10 || v > 1000) return makeError("--blkio-weight must be 10..1000", EINVAL);
    if (!r.blockIO) r.blockIO = oci::BlockIoResources{};
    r.blockIO->weight = uint16_t(v);
  }
  if (!r.memory && !r.cpu && !r.pids && !r.blockIO && r.devices.empty() && r.hugepageLimits.empty())
    return makeError("update: no resources given (flags or --resources)", EINVAL);
  return r;
}

Result<int> updateVerb(Context& ctx) {
  KATA_TRY(expectArgs(ctx, 1, "container id"));
  KATA_ASSIGN_OR_RETURN(oci::Resources r, resourcesFromFlags(ctx));
  KATA_ASSIGN_OR_RETURN(vc::RuntimeContext rc, ctx.runtime());
  KATA_TRY(vc::updateContainer(rc, ctx.args.positional[0], r));
  return 0;
}

}  // namespace

const Command kUpdateCommand = {
    "update",
    "update [command options] <container-id>",
    "Update container resource constraints",
    {{{"resources", "r"}, true, "path to a LinuxResources JSON file, or - for stdin"},
     {{"blkio-weight"}, true, "block IO weight (10..1000)"},
     {{"cpu-period"}, true, "CPU CFS period in microseconds"},
     {{"cpu-quota"}, true, "CPU CFS quota in microseconds"},
     {{"cpu-share"}, true, "CPU shares (relative weight)"},
     {{"cpu-rt-period"}, true, "CPU realtime period in microseconds"},
     {{"cpu-rt-runtime"}, true, "CPU realtime runtime in microseconds"},
     {{"cpuset-cpus"}, true, "CPUs allowed (0-3, 0,1)"},
     {{"cpuset-mems"}, true, "memory nodes allowed (0-3, 0,1)"},
     {{"kernel-memory"}, true, "kernel memory limit (e.g. 512m)"},
     {{"kernel-memory-tcp"}, true, "kernel TCP buffer memory limit"},
     {{"memory"}, true, "memory limit (e.g. 512m, 1g)"},
     {{"memory-reservation"}, true, "memory reservation (soft limit)"},
     {{"memory-swap"}, true, "memory plus swap limit; -1 for unlimited"},
     {{"pids-limit"}, true, "maximum number of pids"}},
    updateVerb};

}  // namespace kata::cli
