#include "lib/state_file.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "lib/fs_util.h"
#include "lib/temp_dir.h"

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using namespace kata;

TEST_GROUP(StateFile) {
  TempDir dir;
  void setup() override { dir = std::move(TempDir::create("state-file-test-").value()); }
};

TEST(StateFile, JsonRoundTripWithMode) {
  Json::Value v;
  v["id"] = "c1";
  v["pid"] = 42;
  v["nested"]["list"].append("x");
  std::string p = dir.path() + "/state.json";
  CHECK(writeJsonAtomic(p, v).ok());
  struct stat st;
  CHECK(stat(p.c_str(), &st) == 0);
  LONGS_EQUAL(0600, st.st_mode & 0777);
  auto back = readJsonFile(p);
  CHECK(back.ok());
  CHECK(*back == v);
}

TEST(StateFile, CorruptJsonNamesTheFile) {
  std::string p = dir.path() + "/bad.json";
  CHECK(writeFileAtomic(p, "{\"id\": \"c1\",", 0600).ok());
  auto r = readJsonFile(p);
  CHECK_FALSE(r.ok());
  CHECK(r.error().message.rfind(p + ": invalid JSON", 0) == 0);
  CHECK(r.error().message.find('\n') == std::string::npos);
}

TEST(StateFile, StrictModeRejectsCommentsTrailingDataAndDuplicates) {
  CHECK_FALSE(parseJson("{\"a\":1} // c", "t").ok());
  CHECK_FALSE(parseJson("{\"a\":1} {}", "t").ok());
  CHECK_FALSE(parseJson("{\"a\":1,\"a\":2}", "t").ok());
  CHECK_FALSE(parseJson("", "t").ok());
  CHECK(parseJson("{\"a\":[1,2]}", "t").ok());
}

TEST(StateFile, MissingFileKeepsEnoent) {
  auto r = readJsonFile(dir.path() + "/none.json");
  CHECK_FALSE(r.ok());
  LONGS_EQUAL(ENOENT, r.error().code);
}

TEST(StateFile, OversizedFileIsRejected) {
  std::string p = dir.path() + "/big.json";
  CHECK(writeFileAtomic(p, "[" + std::string(2000, ' ') + "]", 0600).ok());
  auto r = readJsonFile(p, 100);
  CHECK_FALSE(r.ok());
  LONGS_EQUAL(EFBIG, r.error().code);
}

TEST(StateFile, LockFileIsCreatedPrivate) {
  std::string p = dir.path() + "/lock";
  auto lock = FileLock::acquire(p, FileLock::Exclusive, 0);
  CHECK(lock.ok());
  CHECK(lock->held());
  struct stat st;
  CHECK(stat(p.c_str(), &st) == 0);
  LONGS_EQUAL(0600, st.st_mode & 0777);
}

// flock locks belong to the open file description, so contention is tested from a child process
// holding the lock, as another kata-runtime invocation would.
TEST(StateFile, SecondExclusiveLockTimesOutWhileHeld) {
  std::string p = dir.path() + "/lock";
  int ready[2], release[2];
  CHECK(pipe(ready) == 0 && pipe(release) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    auto held = FileLock::acquire(p, FileLock::Exclusive, 0);
    char c = held.ok() ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    (void)!read(release[0], &c, 1);
    _exit(0);
  }
  char c = 0;
  CHECK(read(ready[0], &c, 1) == 1);
  CHECK_EQUAL('y', c);

  auto second = FileLock::acquire(p, FileLock::Exclusive, 100);
  CHECK_FALSE(second.ok());
  LONGS_EQUAL(EWOULDBLOCK, second.error().code);
  CHECK(second.error().message.find(p) != std::string::npos);
  CHECK_FALSE(FileLock::acquire(p, FileLock::Shared, 0).ok());

  (void)!write(release[1], "x", 1);
  int status;
  waitpid(pid, &status, 0);
  auto third = FileLock::acquire(p, FileLock::Exclusive, 1000);
  CHECK(third.ok());
  for (int fd : {ready[0], ready[1], release[0], release[1]}) close(fd);
}

TEST(StateFile, WaiterOnARemovedLockFileLocksThePathAfresh) {
  std::string p = dir.path() + "/lock";
  auto first = FileLock::acquire(p, FileLock::Exclusive, 0);
  CHECK(first.ok());
  // flock conflicts between two open file descriptions even within one process.
  Result<FileLock> waiter = makeError("not run");
  std::thread t([&] { waiter = FileLock::acquire(p, FileLock::Exclusive, 5000); });
  usleep(100 * 1000);  // the waiter is now polling the file about to be removed
  first->removeFile();
  CHECK_FALSE(first->held());
  t.join();
  CHECK_TEXT(waiter.ok(), waiter.ok() ? "" : waiter.error().str().c_str());
  CHECK(access(p.c_str(), F_OK) == 0);  // a new file at the path...
  CHECK_FALSE(FileLock::acquire(p, FileLock::Exclusive, 0).ok());  // ...that the waiter holds
  waiter->removeFile();
  CHECK(access(p.c_str(), F_OK) != 0);
}

TEST(StateFile, SharedHolderCannotRemoveTheLockFile) {
  std::string p = dir.path() + "/lock";
  auto shared = FileLock::acquire(p, FileLock::Shared, 0);
  CHECK(shared.ok());
  shared->removeFile();
  CHECK(access(p.c_str(), F_OK) == 0);
  CHECK(shared->held());
}

TEST(StateFile, SharedLocksCoexistAndReleaseOnDestruction) {
  std::string p = dir.path() + "/lock";
  {
    auto a = FileLock::acquire(p, FileLock::Shared, 0);
    auto b = FileLock::acquire(p, FileLock::Shared, 0);
    CHECK(a.ok());
    CHECK(b.ok());
    CHECK_FALSE(FileLock::acquire(p, FileLock::Exclusive, 0).ok());
  }
  CHECK(FileLock::acquire(p, FileLock::Exclusive, 0).ok());
}

TEST_GROUP(ParseJsonHostile){};

TEST(ParseJsonHostile, DeepNestingIsAnErrorNotACrash) {
  std::string deep(5000, '[');
  auto r = kata::parseJson(deep, "deep.json");
  CHECK_FALSE(r.ok());
  CHECK_TRUE(r.error().message.find("deep.json") != std::string::npos);
}
