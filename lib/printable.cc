#include "lib/printable.h"

namespace kata {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void escapeByte(std::string& out, unsigned char c) {
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 0xf];
}

bool isContinuation(unsigned char c) { return (c & 0xc0) == 0x80; }

// Length of the valid UTF-8 sequence at text[i] (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF), or 0.
size_t utf8Length(std::string_view text, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = at(i);
  size_t left = text.size() - i;
  if (c >= 0xc2 && c <= 0xdf) return left >= 2 && isContinuation(at(i + 1)) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (left < 3 || !isContinuation(at(i + 1)) || !isContinuation(at(i + 2))) return 0;
    if (c == 0xe0 && at(i + 1) < 0xa0) return 0;   // overlong
    if (c == 0xed && at(i + 1) >= 0xa0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (left < 4 || !isContinuation(at(i + 1)) || !isContinuation(at(i + 2)) ||
        !isContinuation(at(i + 3)))
      return 0;
    if (c == 0xf0 && at(i + 1) < 0x90) return 0;   // overlong
    if (c == 0xf4 && at(i + 1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

std::string printable(std::string_view text, bool keepLines) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c < 0x20 && !(keepLines && (c == '\n' || c == '\t'))) || c == 0x7f) {
        escapeByte(out, c);
      } else {
        out += static_cast<char>(c);
      }
      i++;
      continue;
    }
    size_t n = utf8Length(text, i);
    if (n == 0) {
      escapeByte(out, c);
      i++;
      continue;
    }
    if (n == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0) {
      // U+0080..U+009F: C1 controls (U+009B is an 8-bit CSI for many terminals).
      unsigned char cp = static_cast<unsigned char>(text[i + 1]);
      out += "\\u00";
      out += kHex[cp >> 4];
      out += kHex[cp & 0xf];
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string quotedForError(std::string_view text, size_t maxShown) {
  std::string shown;
  for (char c : text.substr(0, maxShown)) {
    if (c == '"' || c == '\\') shown += '\\';
    shown += c;
  }
  return "\"" + printable(shown) + (text.size() > maxShown ? "...\"" : "\"");
}

}  // namespace kata
