#include "runtime/cli/output.h"

#include <memory>

namespace kata::cli {

std::string prettyJson(const Json::Value& value) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "  ";
  return Json::writeString(w, value) + "\n";
}

Result<std::string> reencodePidList(const std::string& fromGuest) {
  Json::CharReaderBuilder b;
  Json::CharReaderBuilder::strictMode(&b.settings_);
  std::unique_ptr<Json::CharReader> reader(b.newCharReader());
  Json::Value v;
  std::string err;
  bool parsed = reader->parse(fromGuest.data(), fromGuest.data() + fromGuest.size(), &v, &err);
  if (!parsed || !v.isArray()) return makeError("agent returned a malformed pid list", EPROTO);
  std::string out = "[";
  for (const auto& pid : v) {
    if (!pid.isUInt() || pid.asUInt() > 0x7fffffff)
      return makeError("agent returned a malformed pid list", EPROTO);
    out += (out.size() > 1 ? "," : "") + std::to_string(pid.asUInt());
  }
  return out + "]\n";
}

}  // namespace kata::cli
