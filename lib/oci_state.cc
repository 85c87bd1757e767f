#include "lib/oci_state.h"

#include <algorithm>
#include <cstring>

namespace kata::oci {

namespace {

const Json::Value* member(const Json::Value& obj, const char* key) {
  return obj.find(key, key + strlen(key));
}

}  // namespace

Json::Value toJson(const State& state) {
  Json::Value o(Json::objectValue);
  o["ociVersion"] = state.ociVersion;
  o["id"] = state.id;
  o["status"] = state.status;
  o["pid"] = static_cast<Json::Int>(state.pid);
  o["bundle"] = state.bundle;
  if (!state.annotations.empty()) {
    Json::Value a(Json::objectValue);
    for (const auto& [k, v] : state.annotations) a[k] = v;
    o["annotations"] = a;
  }
  return o;
}

Result<State> parseState(const Json::Value& value) {
  auto bad = [](const std::string& field, const std::string& what) {
    return makeError("state: " + field + ": " + what, EINVAL);
  };
  if (!value.isObject()) return bad("(document)", "expected object");
  State s;
  for (const char* key : {"ociVersion", "id", "status", "bundle"}) {
    const Json::Value* v = member(value, key);
    if (!v) return bad(key, "required");
    if (!v->isString()) return bad(key, "expected string");
  }
  s.ociVersion = value["ociVersion"].asString();
  s.id = value["id"].asString();
  s.status = value["status"].asString();
  s.bundle = value["bundle"].asString();
  static const char* kStatuses[] = {"creating", "created", "running", "paused", "stopped"};
  if (std::none_of(std::begin(kStatuses), std::end(kStatuses),
                   [&](const char* k) { return s.status == k; }))
    return bad("status", "unknown status \"" + s.status + "\"");
  if (const Json::Value* pid = member(value, "pid")) {
    if (!pid->isInt() || pid->asInt() < 0) return bad("pid", "expected non-negative integer");
    s.pid = pid->asInt();
  }
  if (const Json::Value* a = member(value, "annotations")) {
    if (!a->isObject()) return bad("annotations", "expected object");
    for (auto it = a->begin(); it != a->end(); ++it) {
      if (!it->isString()) return bad("annotations." + it.name(), "expected string");
      s.annotations[it.name()] = it->asString();
    }
  }
  return s;
}

}  // namespace kata::oci
