// Elapsed time on CLOCK_MONOTONIC, for lib's bounded polling loops (flock and child waits have
// no timed variant).
#pragma once

#include <time.h>

namespace kata {

/// A CLOCK_MONOTONIC reading.
inline timespec monotonicNow() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t;
}

/// Milliseconds since `start`, a monotonicNow() reading.
inline long msSince(const timespec& start) {
  timespec now = monotonicNow();
  return (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
}

}  // namespace kata
