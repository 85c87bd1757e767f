#include "lib/toml_writer.h"

#include <toml++/toml.h>

#include <CppUTest/TestHarness.h>

TEST_GROUP(TomlWriter){};

TEST(TomlWriter, NestedTablesAndScalars) {
  Json::Value doc;
  doc["Meta"]["Version"] = "1.0.26";
  doc["Runtime"]["Debug"] = false;
  doc["Runtime"]["Experimental"] = Json::Value(Json::arrayValue);
  doc["Runtime"]["Version"]["OCI"] = "1.0.2";
  doc["Hypervisor"]["Msize9p"] = 8192;
  std::string text = kata::toToml(doc);
  STRCMP_EQUAL(
      "[Hypervisor]\n  Msize9p = 8192\n\n[Meta]\n  Version = \"1.0.26\"\n\n[Runtime]\n"
      "  Debug = false\n  Experimental = []\n\n[Runtime.Version]\n  OCI = \"1.0.2\"\n",
      text.c_str());
}

TEST(TomlWriter, OutputParsesBackWithEscapes) {
  Json::Value doc;
  doc["Kernel"]["Parameters"] = "a=\"b\" \\ \n\x01";
  auto parsed = toml::parse(kata::toToml(doc));
  STRCMP_EQUAL("a=\"b\" \\ \n\x01", parsed["Kernel"]["Parameters"].value<std::string>()->c_str());
}
