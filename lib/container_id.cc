#include "lib/container_id.h"

#include <string>

#include "lib/printable.h"

namespace kata {

namespace {

bool isIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '+' || c == '.' || c == '-';
}

}  // namespace

Status validateContainerId(std::string_view id) {
  auto invalid = [&](const std::string& why) {
    return makeError("invalid container id " + quotedForError(id) + ": " + why, EINVAL);
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
