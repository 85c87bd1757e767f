// Test helpers around a file mapped into a process, for the page-out tests (lib/page_out.h
// and the shim's start-up pages).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "lib/temp_dir.h"
#include "lib/unique_fd.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

namespace kata::testing {

inline constexpr size_t kFileBytes = 1 << 20;

inline std::string makeMappedFile(const TempDir& dir) {
  std::string path = dir.path() + "/blob";
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  CHECK(fd.valid());
  std::string data(kFileBytes, 'k');
  CHECK(write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  CHECK(fsync(fd.get()) == 0);  // dirty page-cache pages could not be reclaimed
  return path;
}

// Maps `path` privately and reads every page, as QEMU does with an ELF kernel.
inline const volatile char* mapAndTouch(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  CHECK(fd.valid());
  void* p = mmap(nullptr, kFileBytes, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  CHECK(p != MAP_FAILED);
  const volatile char* c = static_cast<const char*>(p);
  long sum = 0;
  for (size_t i = 0; i < kFileBytes; i += 4096) sum += c[i];
  CHECK(sum == long('k') * long(kFileBytes / 4096));
  return c;
}

// Resident kB of the mappings of `path` in process `pid`, from /proc/<pid>/smaps.
inline long residentKb(pid_t pid, const std::string& path) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/smaps").c_str(), "re");
  CHECK(f != nullptr);
  char line[4096];
  bool inFile = false;
  long kb = 0;
  while (std::fgets(line, sizeof line, f)) {
    unsigned long start, end;
    if (std::sscanf(line, "%lx-%lx ", &start, &end) == 2) {  // a mapping's header line
      inFile = std::strstr(line, path.c_str()) != nullptr;
    } else if (inFile && std::strncmp(line, "Rss:", 4) == 0) {
      kb += std::atol(line + 4);
    }
  }
  std::fclose(f);
  return kb;
}


}  // namespace kata::testing
