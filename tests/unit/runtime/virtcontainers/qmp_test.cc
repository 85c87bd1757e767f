#include "runtime/virtcontainers/qmp.h"

#include <CppUTest/TestHarness.h>

TEST_GROUP(QmpParse){};

TEST(QmpParse, AcceptsObjectsOnly) {
  auto ok = kata::vc::parseQmpMessage("{\"return\": {}}");
  CHECK_TRUE(ok.ok());
  CHECK_TRUE(ok->isMember("return"));
  CHECK_FALSE(kata::vc::parseQmpMessage("[1,2]").ok());
  CHECK_FALSE(kata::vc::parseQmpMessage("{\"return\": ").ok());
  CHECK_FALSE(kata::vc::parseQmpMessage("{} trailing").ok());
  CHECK_FALSE(kata::vc::parseQmpMessage("{\"a\":1,\"a\":2}").ok());
}

TEST(QmpParse, RejectsOversizeAndDeepNesting) {
  std::string huge(kata::vc::kQmpMaxMessage + 1, ' ');
  CHECK_FALSE(kata::vc::parseQmpMessage(huge).ok());
  std::string deep(1000, '[');
  CHECK_FALSE(kata::vc::parseQmpMessage("{\"a\":" + deep).ok());
}
