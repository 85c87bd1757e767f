#include "shim/signals.h"

#include <signal.h>

// Last: CppUTest redefines operator new for the code that follows.
#include <CppUTest/TestHarness.h>

TEST_GROUP(ShimSignals){};

TEST(ShimSignals, ForwardsEveryCatchableSignalButChildPipeAndFaults) {
  sigset_t set = kata::shim::forwardedSignals();
  for (int sig :
       {SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGUSR1, SIGUSR2, SIGTERM, SIGALRM, SIGCONT, SIGTSTP,
        SIGTTIN, SIGTTOU, SIGURG, SIGXCPU, SIGWINCH, SIGPROF, SIGRTMIN, SIGRTMIN + 5, SIGRTMAX}) {
    CHECK_EQUAL_TEXT(1, sigismember(&set, sig), kata::shim::signalName(sig).c_str());
  }
  for (int sig :
       {SIGKILL, SIGSTOP, SIGCHLD, SIGPIPE, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS}) {
    CHECK_EQUAL_TEXT(0, sigismember(&set, sig), kata::shim::signalName(sig).c_str());
  }
}

TEST(ShimSignals, Names) {
  STRCMP_EQUAL("TERM", kata::shim::signalName(SIGTERM).c_str());
  STRCMP_EQUAL("WINCH", kata::shim::signalName(SIGWINCH).c_str());
  STRCMP_EQUAL("RTMIN", kata::shim::signalName(SIGRTMIN).c_str());
  STRCMP_EQUAL("RTMIN+2", kata::shim::signalName(SIGRTMIN + 2).c_str());
}
