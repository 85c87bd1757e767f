// Fuzz target for the config.json parser: the bundle comes from whoever calls the runtime, so
// any byte string must yield a Spec or an Error, never a crash, hang or leak. Accepted input
// must also survive a round trip through toJson.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/oci_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = kata::oci::parseSpec(text);
  if (spec.ok()) {
    Json::StreamWriterBuilder builder;
    auto again = kata::oci::parseSpec(Json::writeString(builder, kata::oci::toJson(*spec)));
    if (!again.ok() || !(*again == *spec)) abort();  // the serializer lost or changed something
  }
  (void)kata::oci::parseProcess(text);
  (void)kata::oci::parseResources(text);
  return 0;
}
