// Strict parsers for numbers, durations and booleans given on command lines and in small
// files: the whole text must match, values out of range are errors, nothing throws. Every
// error message names `what` (a flag, a file) and quotes the text (cut to 32 bytes).
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "lib/result.h"

namespace kata {

namespace detail {
Result<int64_t> parseSigned(std::string_view text, std::string_view what, int base, int64_t min,
                            int64_t max);
Result<uint64_t> parseUnsigned(std::string_view text, std::string_view what, int base,
                               uint64_t max);
}  // namespace detail

/// A decimal (or, with `base` 16, hexadecimal without "0x") integer of type T: digits only,
/// with a leading '-' for signed types; no sign '+', no spaces, no empty text.
template <std::integral T>
Result<T> parseInt(std::string_view text, std::string_view what, int base = 10) {
  if constexpr (std::is_signed_v<T>) {
    auto v = detail::parseSigned(text, what, base, std::numeric_limits<T>::min(),
                                 std::numeric_limits<T>::max());
    if (!v) return std::move(v).error();
    return static_cast<T>(*v);
  } else {
    auto v = detail::parseUnsigned(text, what, base, std::numeric_limits<T>::max());
    if (!v) return std::move(v).error();
    return static_cast<T>(*v);
  }
}

/// A Go duration ("300ms", "1.5h", "2h45m", units ns, us, µs, ms, s, m, h), not negative.
/// A plain number is refused: the unit is never guessed.
Result<std::chrono::nanoseconds> parseDuration(std::string_view text, std::string_view what);

/// `text` cut at every `sep`, every field kept (empty ones too: "a::b" gives three, "a:" two).
std::vector<std::string> splitFields(std::string_view text, char sep);

/// Go's strconv.ParseBool spellings: 1 t T true TRUE True, 0 f F false FALSE False.
Result<bool> parseBool(std::string_view text, std::string_view what);

}  // namespace kata
