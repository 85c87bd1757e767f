// For CppUTest executables whose code under test uses protobuf reflection (descriptors, type
// names): protobuf builds a .proto file's descriptors on first use and then frees part of
// what it registered at start-up. Before main those blocks were allocated by CppUTest's
// tracking operator new; unit_main.cc turns tracking off, so freeing them inside a test
// leaves dangling entries in CppUTest's leak table, and the test run crashes after the test.
// Building the descriptors before main avoids it:
//   const bool kDescriptorsBuilt = kata::testing::buildDescriptors<containerd::events::TaskExit>();
#pragma once

namespace kata::testing {

/// Builds the descriptors of each message's .proto file (and its imports); returns true.
template <class... Messages>
bool buildDescriptors() {
  (Messages::descriptor(), ...);
  return true;
}

}  // namespace kata::testing
