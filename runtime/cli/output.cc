#include "runtime/cli/output.h"

namespace kata::cli {

std::string prettyJson(const Json::Value& value) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "  ";
  return Json::writeString(w, value) + "\n";
}

}  // namespace kata::cli
