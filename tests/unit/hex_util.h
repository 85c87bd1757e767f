// Bytes as lower-case hex, for tests that pin a wire encoding byte for byte.
#pragma once

#include <string>

namespace kata::testing {

inline std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 0xf];
  }
  return out;
}

}  // namespace kata::testing
