#include "lib/log.h"

#include <unistd.h>

#include <string>

#include <CppUTest/TestHarness.h>

using kata::log::Format;
using kata::log::Level;

TEST_GROUP(Log){};

TEST(Log, TextLineQuotesOnlyWhatLogrusQuotes) {
  std::string line = kata::log::formatLine(Format::Text, Level::Info, "hello world",
                                           {{"source", "runtime"}, {"name", "kata-runtime"}},
                                           "2026-01-01T00:00:00.000000001Z");
  STRCMP_EQUAL(
      "time=\"2026-01-01T00:00:00.000000001Z\" level=info msg=\"hello world\" "
      "name=kata-runtime source=runtime",
      line.c_str());
}

TEST(Log, JsonLineIsSortedAndEscaped) {
  std::string line = kata::log::formatLine(Format::Json, Level::Error, "bad \"id\"\n",
                                           {{"container", "c1"}}, "T");
  STRCMP_EQUAL(
      "{\"container\":\"c1\",\"level\":\"error\",\"msg\":\"bad \\\"id\\\"\\n\",\"time\":\"T\"}",
      line.c_str());
}

TEST(Log, ControlBytesAreEscapedAsUnicode) {
  std::string line = kata::log::formatLine(Format::Json, Level::Warn, std::string("a\x01z"), {}, "T");
  STRCMP_EQUAL("{\"level\":\"warning\",\"msg\":\"a\\u0001z\",\"time\":\"T\"}", line.c_str());
}

TEST(Log, DelAndC1ControlsAreEscapedToo) {
  // A guest line with an 8-bit CSI (U+009B) and DEL: text logs reach terminals with --debug.
  std::string line = kata::log::formatLine(Format::Text, Level::Info,
                                           "a\xc2\x9b"
                                           "2Jb\x7f\xc2\xa0",
                                           {}, "T");
  STRCMP_EQUAL("time=\"T\" level=info msg=\"a\\u009b2Jb\\u007f\xc2\xa0\"", line.c_str());
}

TEST(Log, ParseLevelAndFormat) {
  CHECK(kata::log::parseLevel("debug").value() == Level::Debug);
  CHECK(kata::log::parseLevel("warning").value() == Level::Warn);
  CHECK_FALSE(kata::log::parseLevel("loud").ok());
  CHECK(kata::log::parseFormat("json").value() == Format::Json);
  CHECK_FALSE(kata::log::parseFormat("xml").ok());
}

TEST(Log, TimestampIsRfc3339WithNanoseconds) {
  std::string t = kata::log::timestamp();
  LONGS_EQUAL(30, t.size());  // 2026-11-25T22:40:00.123456789Z
  CHECK_EQUAL('T', t[10]);
  CHECK_EQUAL('Z', t.back());
}

TEST(Log, LineFieldsReplaceProcessFields) {
  int fds[2];
  CHECK_EQUAL(0, pipe(fds));
  kata::log::Options o;
  o.name = "kata-proxy";
  o.source = "proxy";
  o.fd = fds[1];
  CHECK_TRUE(kata::log::init(o).ok());
  kata::log::info("relayed", {{"source", "agent"}});
  char buf[512] = {};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  CHECK_TRUE(n > 0);
  std::string line(buf, size_t(n));
  CHECK_TRUE(line.find("source=agent") != std::string::npos);
  CHECK_TRUE(line.find("source=proxy") == std::string::npos);
  kata::log::Options off;
  off.fd = -1;
  CHECK_TRUE(kata::log::init(off).ok());
  close(fds[0]);
  close(fds[1]);
}
