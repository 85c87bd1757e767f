#include "agent/capabilities.h"

#include <sys/prctl.h>

#include <algorithm>
#include <cctype>

#include "protocols/oci.pb.h"

namespace kata::agent {

namespace {

Status addNames(const google::protobuf::RepeatedPtrField<std::string>& names,
                std::vector<cap_value_t>& out, std::vector<std::string>* unknown) {
  for (const auto& name : names) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (lower.rfind("cap_", 0) != 0 || lower.size() > 64) {
      return makeError("capability \"" + name.substr(0, 64) + "\": expected a CAP_* name", EINVAL);
    }
    cap_value_t v;
    if (cap_from_name(lower.c_str(), &v) != 0 || v > static_cast<cap_value_t>(cap_max_bits())) {
      if (unknown) unknown->push_back(name);
      continue;
    }
    out.push_back(v);
  }
  return okStatus();
}

}  // namespace

Result<CapabilitySets> parseCapabilities(const grpc::LinuxCapabilities& caps,
                                         std::vector<std::string>* unknown) {
  CapabilitySets out;
  KATA_TRY(addNames(caps.bounding(), out.bounding, unknown));
  KATA_TRY(addNames(caps.effective(), out.effective, unknown));
  KATA_TRY(addNames(caps.inheritable(), out.inheritable, unknown));
  KATA_TRY(addNames(caps.permitted(), out.permitted, unknown));
  KATA_TRY(addNames(caps.ambient(), out.ambient, unknown));
  return out;
}

std::vector<std::string> dropUnraisableAmbient(CapabilitySets& caps) {
  auto has = [](const std::vector<cap_value_t>& set, cap_value_t c) {
    return std::find(set.begin(), set.end(), c) != set.end();
  };
  std::vector<std::string> dropped;
  std::vector<cap_value_t> kept;
  for (cap_value_t c : caps.ambient) {
    if (has(caps.permitted, c) && has(caps.inheritable, c)) {
      kept.push_back(c);
      continue;
    }
    char* name = cap_to_name(c);
    std::string upper = name ? name : std::to_string(c);
    cap_free(name);
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char ch) { return std::toupper(ch); });
    dropped.push_back(upper);
  }
  caps.ambient = std::move(kept);
  return dropped;
}

Status dropBoundingSet(const CapabilitySets& caps) {
  for (cap_value_t c = 0; c <= static_cast<cap_value_t>(cap_max_bits()) - 1; ++c) {
    if (std::find(caps.bounding.begin(), caps.bounding.end(), c) != caps.bounding.end()) continue;
    // Removes the capability from what any later exec could ever regain.
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) {
      return sysError("drop capability " + std::to_string(c) + " from the bounding set");
    }
  }
  return okStatus();
}

Status applyCapabilities(const CapabilitySets& caps) {
  cap_t state = cap_init();
  if (!state) return sysError("cap_init");
  auto set = [&](const std::vector<cap_value_t>& list, cap_flag_t flag) {
    if (list.empty()) return 0;
    return cap_set_flag(state, flag, static_cast<int>(list.size()), list.data(), CAP_SET);
  };
  if (set(caps.effective, CAP_EFFECTIVE) != 0 || set(caps.permitted, CAP_PERMITTED) != 0 ||
      set(caps.inheritable, CAP_INHERITABLE) != 0) {
    cap_free(state);
    return sysError("cap_set_flag");
  }
  // Sets the process's capabilities to exactly what the spec grants.
  int rc = cap_set_proc(state);
  cap_free(state);
  if (rc != 0) return sysError("set capabilities");
  if (cap_reset_ambient() != 0 && errno != EINVAL) return sysError("reset ambient capabilities");
  for (cap_value_t c : caps.ambient) {
    // Ambient capabilities survive the exec of a non-setuid program for a non-root user.
    if (cap_set_ambient(c, CAP_SET) != 0) {
      return sysError("raise ambient capability " + std::to_string(c));
    }
  }
  return okStatus();
}

}  // namespace kata::agent
