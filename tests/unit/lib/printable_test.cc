#include "lib/printable.h"

#include <string>

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using kata::printable;

TEST_GROUP(Printable){};

TEST(Printable, PlainTextAndUtf8Unchanged) {
  STRCMP_EQUAL("no such process 42", printable("no such process 42").c_str());
  STRCMP_EQUAL("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3",
               printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3").c_str());
}

TEST(Printable, ControlBytesEscaped) {
  STRCMP_EQUAL("\\x1b]0;pwned\\x07\\x1b[2J", printable("\x1b]0;pwned\x07\x1b[2J").c_str());
  STRCMP_EQUAL("a\\x0db\\x7f\\x00", printable(std::string("a\rb\x7f\0", 5)).c_str());
  STRCMP_EQUAL("one\\x0atwo\\x09", printable("one\ntwo\t").c_str());
  STRCMP_EQUAL("one\ntwo\t\\x0d", printable("one\ntwo\t\r", true).c_str());
}

TEST(Printable, C1ControlsAndInvalidUtf8Escaped) {
  STRCMP_EQUAL("\\u009b31m", printable("\xc2\x9b"
                                       "31m")
                                 .c_str());                 // 8-bit CSI as UTF-8
  STRCMP_EQUAL("\xc2\xa0", printable("\xc2\xa0").c_str());  // NBSP is printable
  STRCMP_EQUAL("\\x9b31m", printable("\x9b"
                                     "31m")
                               .c_str());                              // bare C1 byte
  STRCMP_EQUAL("\\xc0\\xaf", printable("\xc0\xaf").c_str());           // overlong '/'
  STRCMP_EQUAL("\\xed\\xa0\\x80", printable("\xed\xa0\x80").c_str());  // surrogate
  STRCMP_EQUAL("\\xf4\\x90\\x80\\x80", printable("\xf4\x90\x80\x80").c_str());
  STRCMP_EQUAL("ab\\xe2\\x82", printable("ab\xe2\x82").c_str());  // truncated sequence
}

TEST(Printable, QuotedForErrorEscapesQuotesAndCuts) {
  STRCMP_EQUAL("\"a\\\"b\\\\c\\x1b\"", kata::quotedForError("a\"b\\c\x1b").c_str());
  STRCMP_EQUAL("\"abcd...\"", kata::quotedForError("abcdefgh", 4).c_str());
  STRCMP_EQUAL("\"\"", kata::quotedForError("").c_str());
}
