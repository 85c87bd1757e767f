// Entry point shared by every CppUTest unit-test executable.
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

int main(int argc, char** argv) {
  // Libraries such as protobuf and gRPC keep process-wide caches that CppUTest's per-test leak
  // checker would report; leaks are hunted with the ASan build (make asan) instead.
  MemoryLeakWarningPlugin::turnOffNewDeleteOverloads();
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
