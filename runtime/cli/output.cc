#include "runtime/cli/output.h"

namespace kata::cli {

std::string prettyJson(const Json::Value& value) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "  ";
  return Json::writeString(w, value) + "\n";
}

std::string pidListJson(const std::vector<pid_t>& pids) {
  std::string out = "[";
  for (pid_t pid : pids) out += (out.size() > 1 ? "," : "") + std::to_string(pid);
  return out + "]\n";
}

}  // namespace kata::cli
