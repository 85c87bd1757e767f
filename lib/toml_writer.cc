#include "lib/toml_writer.h"

#include <cstdio>

namespace kata {
namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

std::string scalar(const Json::Value& v) {
  if (v.isBool()) return v.asBool() ? "true" : "false";
  if (v.isInt64()) return std::to_string(v.asInt64());
  if (v.isUInt64()) return std::to_string(v.asUInt64());
  if (v.isDouble()) return std::to_string(v.asDouble());
  if (v.isArray()) {
    std::string out = "[";
    for (Json::ArrayIndex i = 0; i < v.size(); i++) {
      if (i) out += ", ";
      out += scalar(v[i]);
    }
    return out + "]";
  }
  if (v.isNull()) return "\"\"";
  return quote(v.asString());
}

void renderTable(const Json::Value& obj, const std::string& prefix, std::string& out) {
  for (const auto& key : obj.getMemberNames())
    if (!obj[key].isObject()) out += "  " + key + " = " + scalar(obj[key]) + "\n";
  for (const auto& key : obj.getMemberNames()) {
    if (!obj[key].isObject()) continue;
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    out += "\n[" + name + "]\n";
    renderTable(obj[key], name, out);
  }
}

}  // namespace

std::string toToml(const Json::Value& document) {
  std::string out;
  if (!document.isObject()) return out;
  renderTable(document, "", out);
  if (!out.empty() && out[0] == '\n') out.erase(0, 1);
  return out;
}

}  // namespace kata
