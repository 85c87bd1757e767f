#include "lib/parse.h"

#include <charconv>
#include <limits>

#include "lib/printable.h"

namespace kata {
namespace {

Error invalid(std::string_view text, std::string_view what, std::string_view want) {
  return makeError(
      std::string(what) + ": " + quotedForError(text, 32) + " is not " + std::string(want), EINVAL);
}

Error outOfRange(std::string_view text, std::string_view what) {
  return makeError(std::string(what) + ": " + quotedForError(text, 32) + " is out of range",
                   ERANGE);
}

bool isDigitIn(char c, int base) {
  if (c >= '0' && c <= '9') return true;
  if (base != 16) return false;
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Digits only (from_chars alone would take a leading '-' for unsigned nothing, but it also
// stops at the first non-digit: the caller checks the whole text was used).
bool allDigits(std::string_view text, int base) {
  if (text.empty()) return false;
  for (char c : text)
    if (!isDigitIn(c, base)) return false;
  return true;
}

const char* numberKind(int base) { return base == 16 ? "a hexadecimal number" : "a number"; }

}  // namespace

namespace detail {

Result<int64_t> parseSigned(std::string_view text, std::string_view what, int base, int64_t min,
                            int64_t max) {
  std::string_view digits = text.starts_with('-') ? text.substr(1) : text;
  if (!allDigits(digits, base)) return invalid(text, what, numberKind(base));
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && (v < min || v > max)))
    return outOfRange(text, what);
  if (ec != std::errc() || end != text.data() + text.size())
    return invalid(text, what, numberKind(base));
  return v;
}

Result<uint64_t> parseUnsigned(std::string_view text, std::string_view what, int base,
                               uint64_t max) {
  if (!allDigits(text, base)) return invalid(text, what, numberKind(base));
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && v > max))
    return outOfRange(text, what);
  if (ec != std::errc() || end != text.data() + text.size())
    return invalid(text, what, numberKind(base));
  return v;
}

}  // namespace detail

Result<std::chrono::nanoseconds> parseDuration(std::string_view text, std::string_view what) {
  static constexpr struct {
    std::string_view name;
    uint64_t ns;
  } kUnits[] = {{"ns", 1},
                {"us", 1000},
                {"\xc2\xb5s", 1000},
                {"ms", 1000000},
                {"s", 1000000000ULL},
                {"m", 60000000000ULL},
                {"h", 3600000000000ULL}};
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  const char* want = "a duration (e.g. 5s, 300ms, 1m30s)";
  if (text.empty()) return invalid(text, what, want);
  std::string_view rest = text;
  uint64_t total = 0;
  while (!rest.empty()) {
    size_t intLen = 0;
    while (intLen < rest.size() && isDigitIn(rest[intLen], 10)) intLen++;
    std::string_view whole = rest.substr(0, intLen);
    rest.remove_prefix(intLen);
    std::string_view frac;
    if (!rest.empty() && rest[0] == '.') {
      size_t fracLen = 1;
      while (fracLen < rest.size() && isDigitIn(rest[fracLen], 10)) fracLen++;
      frac = rest.substr(1, fracLen - 1);
      rest.remove_prefix(fracLen);
    }
    if (whole.empty() && frac.empty()) return invalid(text, what, want);
    size_t unitLen = 0;
    while (unitLen < rest.size() && rest[unitLen] != '.' && !isDigitIn(rest[unitLen], 10))
      unitLen++;
    std::string_view unitName = rest.substr(0, unitLen);
    rest.remove_prefix(unitLen);
    uint64_t unit = 0;
    for (const auto& u : kUnits)
      if (u.name == unitName) unit = u.ns;
    if (unit == 0) return invalid(text, what, want);
    uint64_t n = 0;
    if (!whole.empty()) {
      auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), n);
      if (ec != std::errc()) return outOfRange(text, what);
    }
    if (n > kMax / unit) return outOfRange(text, what);
    uint64_t ns = n * unit;
    // The fraction, digit by digit: 0.1s is 100000000ns; digits beyond ns precision drop.
    uint64_t scale = unit;
    for (char c : frac) {
      scale /= 10;
      ns += uint64_t(c - '0') * scale;
    }
    if (ns > kMax - total) return outOfRange(text, what);
    total += ns;
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

Result<bool> parseBool(std::string_view v, std::string_view what) {
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False")
    return false;
  return invalid(v, what, "a boolean (true or false)");
}

std::vector<std::string> splitFields(std::string_view text, char sep) {
  std::vector<std::string> out;
  for (;;) {
    const size_t pos = text.find(sep);
    out.emplace_back(text.substr(0, pos));
    if (pos == std::string_view::npos) return out;
    text.remove_prefix(pos + 1);
  }
}

}  // namespace kata
