#include "lib/random_hex.h"

#include <sys/random.h>

#include <cerrno>
#include <vector>

namespace kata {

std::string randomHex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  size_t got = 0;
  while (got < bytes) {
    // Blocks only until the kernel's pool is initialised; EINTR is the one transient error.
    ssize_t n = getrandom(buf.data() + got, bytes - got, 0);
    if (n < 0 && errno != EINTR) break;
    if (n > 0) got += size_t(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : buf) {
    out += hex[c >> 4];
    out += hex[c & 0xf];
  }
  return out;
}

}  // namespace kata
