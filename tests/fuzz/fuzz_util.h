// Shared by the fuzz targets.
#pragma once

#include <google/protobuf/stubs/logging.h>

#include <cstdlib>

namespace kata::fuzz {

/// A broken invariant is a crash: libFuzzer keeps the input.
inline void check(bool ok) {
  if (!ok) std::abort();
}

/// Malformed protobuf input is what the targets are fed: protobuf's complaint per input would
/// drown libFuzzer's output and slow it down. Call once (a static initializer is enough).
inline bool quietProtobuf() {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}

}  // namespace kata::fuzz
