#include "agent/process_list.h"

#include <string>

// CppUTest comes last: its leak-checking macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace kata::agent;

TEST_GROUP(ProcessList){};

TEST(ProcessList, JsonIsASortedArray) {
  STRCMP_EQUAL("[1,12,300]", pidsJson({300, 1, 12}).c_str());
  STRCMP_EQUAL("[]", pidsJson({}).c_str());
}

TEST(ProcessList, PsArgumentsDefaultAndLimits) {
  auto a = psArguments({});
  CHECK(a.ok());
  CHECK_EQUAL(1u, a->size());
  STRCMP_EQUAL("-ef", (*a)[0].c_str());
  CHECK(psArguments({"-o", "pid,args"}).ok());
  CHECK_EQUAL(EINVAL, psArguments(std::vector<std::string>(33, "-e")).error().code);
  CHECK_EQUAL(EINVAL, psArguments({""}).error().code);
  CHECK_EQUAL(EINVAL, psArguments({std::string(300, 'x')}).error().code);
  CHECK_EQUAL(EINVAL, psArguments({std::string("a\0b", 3)}).error().code);
}

TEST(ProcessList, TableKeepsHeaderAndTheContainersLines) {
  std::string ps =
      "UID          PID    PPID  C STIME TTY          TIME CMD\n"
      "root           1       0  0 10:00 ?        00:00:01 /sbin/init 12\n"
      "root          12       1  0 10:00 ?        00:00:00 sleep 100\n"
      "root         120       1  0 10:00 ?        00:00:00 sleep 1\n"
      "root          44      12  0 10:00 pts/0    00:00:00 sh -c echo 12\n";
  auto t = filterPsTable(ps, {12, 44});
  CHECK(t.ok());
  STRCMP_EQUAL(
      "UID          PID    PPID  C STIME TTY          TIME CMD\n"
      "root          12       1  0 10:00 ?        00:00:00 sleep 100\n"
      "root          44      12  0 10:00 pts/0    00:00:00 sh -c echo 12\n",
      t->c_str());
  auto first = filterPsTable("  PID CMD\n    7 x\n    8 y\n", {8});
  CHECK(first.ok());
  STRCMP_EQUAL("  PID CMD\n    8 y\n", first->c_str());
}

TEST(ProcessList, TableWithoutPidColumnIsRefused) {
  CHECK_EQUAL(EINVAL, filterPsTable("COMMAND\nsleep\n", {1}).error().code);
  CHECK(!filterPsTable("", {1}).ok());
}
