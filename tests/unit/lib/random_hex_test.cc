#include "lib/random_hex.h"

#include <CppUTest/TestHarness.h>

TEST_GROUP(RandomHex){};

TEST(RandomHex, LengthAlphabetAndVariety) {
  std::string a = kata::randomHex(8), b = kata::randomHex(8);
  LONGS_EQUAL(16, a.size());
  CHECK_TRUE(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK_TRUE(a != b);  // 2^-64 chance of a false failure
  LONGS_EQUAL(0, kata::randomHex(0).size());
}
