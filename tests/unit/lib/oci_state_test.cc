#include "lib/oci_state.h"

#include <string>

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using namespace kata::oci;

TEST_GROUP(OciState){};

TEST(OciState, JsonHasRuncFieldNames) {
  State s;
  s.id = "c1";
  s.status = "running";
  s.pid = 1234;
  s.bundle = "/run/bundle";
  Json::Value v = toJson(s);
  STRCMP_EQUAL(kOciVersion, v["ociVersion"].asCString());
  STRCMP_EQUAL("c1", v["id"].asCString());
  STRCMP_EQUAL("running", v["status"].asCString());
  LONGS_EQUAL(1234, v["pid"].asInt());
  STRCMP_EQUAL("/run/bundle", v["bundle"].asCString());
  CHECK_FALSE(v.isMember("annotations"));
  s.annotations["a"] = "b";
  CHECK(toJson(s)["annotations"]["a"].asString() == "b");
  auto back = parseState(toJson(s));
  CHECK(back.ok());
  CHECK(*back == s);
}

TEST(OciState, ParseIsStrict) {
  Json::Value v;
  v["ociVersion"] = "1.0.2";
  v["id"] = "c1";
  v["status"] = "exploded";
  v["bundle"] = "/b";
  auto r = parseState(v);
  CHECK_FALSE(r.ok());
  STRCMP_EQUAL("state: status: unknown status \"exploded\"", r.error().message.c_str());
  v["status"] = "stopped";
  v["pid"] = "12";
  STRCMP_EQUAL("state: pid: expected non-negative integer", parseState(v).error().message.c_str());
  v.removeMember("pid");
  CHECK(parseState(v).ok());
  v.removeMember("id");
  STRCMP_EQUAL("state: id: required", parseState(v).error().message.c_str());
}
