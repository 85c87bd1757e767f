#include "proxy/console.h"

#include <string>
#include <vector>

// CppUTest comes last: its leak-checking macros redefine operator new.
#include <CppUTest/TestHarness.h>

using kata::proxy::LineSplitter;

namespace {
struct Lines {
  std::vector<std::string> v;
  LineSplitter::LineHandler handler() {
    return [this](std::string_view l) { v.emplace_back(l); };
  }
};
}  // namespace

TEST_GROUP(ConsoleLines){};

TEST(ConsoleLines, SplitsAcrossChunksAndStripsCarriageReturns) {
  LineSplitter s;
  Lines out;
  s.feed("first li", out.handler());
  s.feed("ne\r\nsecond\n\nthi", out.handler());
  LONGS_EQUAL(2, out.v.size());
  STRCMP_EQUAL("first line", out.v[0].c_str());
  STRCMP_EQUAL("second", out.v[1].c_str());
  s.finish(out.handler());
  LONGS_EQUAL(3, out.v.size());
  STRCMP_EQUAL("thi", out.v[2].c_str());
}

TEST(ConsoleLines, EndlessLineIsCutInBoundedPieces) {
  LineSplitter s(10);
  Lines out;
  for (int i = 0; i < 5; i++) s.feed("abcdefg", out.handler());  // 35 bytes, no newline
  LONGS_EQUAL(3, out.v.size());
  for (const auto& l : out.v) LONGS_EQUAL(10, l.size());
  s.feed("\n", out.handler());
  LONGS_EQUAL(4, out.v.size());
  STRCMP_EQUAL("cdefg", out.v[3].c_str());
}
