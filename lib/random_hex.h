// Random identifiers (exec ids, names of mount points in the shared directory).
#pragma once

#include <cstddef>
#include <string>

namespace kata {

/// `bytes` random bytes from the kernel (getrandom), as lowercase hex.
std::string randomHex(size_t bytes);

}  // namespace kata
