#include "lib/capped_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"
#include "lib/unique_fd.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using kata::CappedFile;
using kata::TempDir;
using kata::UniqueFd;

namespace {

std::string numbered(int i) {
  return "line " + std::to_string(i) + " " + std::string(40, 'z') + "\n";
}

}  // namespace

TEST_GROUP(CappedFile) {
  TempDir dir;
  std::string path;
  void setup() override {
    dir = TempDir::create("capped-file-test-").value();
    path = dir.path() + "/log";
  }
  std::string content() { return kata::readFile(path, 1 << 24).value(); }
};

TEST(CappedFile, FloodStaysUnderTheCapWithTheNewestLinesWhole) {
  // Not O_APPEND on purpose: attach() must add it, or writes after a truncation would leave a
  // hole at the old offset.
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  CappedFile f;
  const uint64_t cap = 64 * 1024;
  f.attach(fd.get(), cap, CappedFile::plainMarker(cap));
  const int kLines = 20000;  // about 1 MB: 15 times the cap
  for (int i = 0; i < kLines; i++) {
    CHECK(f.append(numbered(i)).ok());
    struct stat st;
    CHECK(fstat(fd.get(), &st) == 0);
    CHECK(uint64_t(st.st_size) <= cap);
  }
  std::string text = content();
  CHECK(text.size() >= cap / 4);  // capped, not emptied
  CHECK(text.rfind("[... ", 0) == 0);
  STRCMP_CONTAINS("older bytes dropped: this file is kept under 65536 bytes", text.c_str());
  // After the marker: whole lines, consecutive, ending with the last one written.
  size_t pos = text.find('\n') + 1;
  int first = std::stoi(text.substr(pos + 5));
  CHECK(first > 0);
  std::string expected;
  for (int i = first; i < kLines; i++) expected += numbered(i);
  CHECK(text.compare(pos, std::string::npos, expected) == 0);
  CHECK(f.dropped() > 0);
  CHECK(f.dropped() + text.size() > 900000);
}

TEST(CappedFile, HugeSingleWriteKeepsItsEnd) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  CappedFile f;
  f.attach(fd.get(), 4096, nullptr);  // no marker given: the plain one
  CHECK(f.append(std::string(100000, 'a') + "tail\n").ok());
  std::string text = content();
  CHECK(text.size() <= 4096);
  CHECK(text.size() >= 2048);
  CHECK(text.substr(text.size() - 5) == "tail\n");
}

TEST(CappedFile, ExistingContentCountsAndMarkersAreCustom) {
  kata::Status st = kata::writeFileAtomic(path, std::string(3000, 'o') + "\n", 0600);
  CHECK(st.ok());
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  CappedFile f;
  f.attach(fd.get(), 4096, [](uint64_t n) { return "DROPPED " + std::to_string(n) + "\n"; });
  CHECK(f.append(std::string(1500, 'n') + "\n").ok());
  std::string text = content();
  CHECK(text.size() <= 4096);
  // The old 3001 bytes went (the newest half is the new line alone), the new line stays.
  STRCMP_EQUAL(("DROPPED 3001\n" + std::string(1500, 'n') + "\n").c_str(), text.c_str());
}

TEST(CappedFile, PipesAreWrittenAsTheyAre) {
  int p[2];
  CHECK(pipe2(p, O_CLOEXEC) == 0);
  UniqueFd r(p[0]), w(p[1]);
  CappedFile f;
  f.attach(w.get(), 1024, nullptr);
  CHECK(f.append("hello\n").ok());
  char buf[16];
  LONGS_EQUAL(6, read(r.get(), buf, sizeof buf));
}

TEST(CappedFile, UnattachedRefusesToWrite) {
  CappedFile f;
  CHECK_FALSE(f.attached());
  CHECK_FALSE(f.append("x").ok());
}

TEST(CappedFile, EndlessLineIsCutNotDropped) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  CappedFile f;
  f.attach(fd.get(), 4096, nullptr);
  for (int i = 0; i < 100; i++) CHECK(f.append(std::string(1000, 'e')).ok());
  std::string text = content();
  CHECK(text.size() <= 4096);
  CHECK(text.size() >= 2048);
  CHECK(text.substr(text.size() - 1000) == std::string(1000, 'e'));
}
