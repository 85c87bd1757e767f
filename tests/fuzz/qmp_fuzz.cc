// Fuzz target: QMP messages as a hostile QEMU could send them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/virtcontainers/qmp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = kata::vc::parseQmpMessage(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)r;
  return 0;
}
