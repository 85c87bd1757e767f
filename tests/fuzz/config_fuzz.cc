// Fuzz target for the configuration.toml parser: any byte string must yield a Config or a
// one-line Error, never a crash or an escaping exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = kata::config::parse(text, "fuzz.toml");
  if (!config.ok() && config.error().message.find('\n') != std::string::npos) abort();
  return 0;
}
