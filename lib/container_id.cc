#include "lib/container_id.h"

#include <string>

namespace kata {

namespace {

bool isIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '+' || c == '.' || c == '-';
}

// Quotes the id for an error message without letting control bytes or an enormous id through.
std::string quoteForError(std::string_view id) {
  std::string out = "\"";
  size_t shown = 0;
  for (char c : id) {
    if (shown++ == 64) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[(c >> 4) & 0xf];
      out += hex[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

Status validateContainerId(std::string_view id) {
  auto invalid = [&](const std::string& why) {
    return makeError("invalid container id " + quoteForError(id) + ": " + why, EINVAL);
  };
  if (id.empty()) return invalid("must not be empty");
  if (id.size() > kMaxContainerIdLength)
    return invalid("longer than " + std::to_string(kMaxContainerIdLength) + " bytes");
  if (id == "." || id == "..") return invalid("must not be \".\" or \"..\"");
  for (char c : id) {
    if (!isIdChar(c)) return invalid("only [A-Za-z0-9_+.-] allowed");
  }
  return okStatus();
}

}  // namespace kata
