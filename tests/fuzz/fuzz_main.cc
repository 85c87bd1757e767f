// Standalone driver for the fuzz targets when they are not built with libFuzzer: runs
// LLVMFuzzerTestOneInput over every file of the corpus directories given on the command line,
// so that the committed corpus is a regression test in every `make test`.
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool readFile(const std::string& path, std::vector<uint8_t>& out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  uint8_t buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  close(fd);
  return n == 0;
}

}  // namespace

int main(int argc, char** argv) {
#if !defined(__SANITIZE_ADDRESS__)  // ASan reserves terabytes of address space for itself
  // An input that makes a target allocate without end (libFuzzer's out-of-memory finds) fails
  // this test at 4 GiB instead of taking the machine's memory (it is shared by test suites).
  struct rlimit limit = {4ull << 30, 4ull << 30};
  setrlimit(RLIMIT_AS, &limit);
#endif
  int ran = 0;
  for (int i = 1; i < argc; i++) {
    DIR* dir = opendir(argv[i]);
    if (!dir) {
      fprintf(stderr, "fuzz driver: cannot open corpus %s\n", argv[i]);
      return 1;
    }
    while (struct dirent* e = readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      std::string path = std::string(argv[i]) + "/" + e->d_name;
      std::vector<uint8_t> data;
      if (!readFile(path, data)) {
        fprintf(stderr, "fuzz driver: cannot read %s\n", path.c_str());
        closedir(dir);
        return 1;
      }
      LLVMFuzzerTestOneInput(data.data(), data.size());
      ran++;
    }
    closedir(dir);
  }
  printf("fuzz driver: %d inputs ran without a crash\n", ran);
  return ran > 0 ? 0 : 1;  // an empty corpus is a defect, not a pass
}
