// Named points where a test can make a process die as if killed with SIGKILL, to prove that
// whatever it leaves behind is found and removed (tests/hostile). Inert unless the environment
// variable KATA_CRASH_POINT names the point; it is read on every call, so a test can aim at one
// command of many.
#pragma once

namespace kata {

/// SIGKILLs the calling process when $KATA_CRASH_POINT equals `name` ("create:qemu", ...).
void crashPoint(const char* name);

}  // namespace kata
