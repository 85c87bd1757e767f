#include "lib/dns_message.h"

#include <string>
#include <vector>

// CppUTest comes last: its leak-detection macros break standard headers.
#include <CppUTest/TestHarness.h>

using namespace kata;

namespace {

// A query for `name` (type A), id 0x1234, RD set; with an EDNS OPT record of `ednsSize` if > 0.
std::vector<uint8_t> query(const std::string& name, uint16_t ednsSize = 0) {
  std::vector<uint8_t> q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, uint8_t(ednsSize ? 1 : 0)};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(uint8_t(dot - start));
    q.insert(q.end(), name.begin() + long(start), name.begin() + long(dot));
    start = dot + 1;
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});  // root, type A, class IN
  if (ednsSize)
    q.insert(q.end(), {0, 0, 41, uint8_t(ednsSize >> 8), uint8_t(ednsSize), 0, 0, 0, 0, 0, 0});
  return q;
}

}  // namespace

TEST_GROUP(DnsMessage){};

TEST(DnsMessage, QueriesAreRecognisedAndBounded) {
  CHECK(dns::isQuery(query("web")));
  std::vector<uint8_t> answer = query("web");
  answer[2] |= 0x80;
  CHECK_FALSE(dns::isQuery(answer));
  CHECK_FALSE(dns::isQuery(std::vector<uint8_t>(11, 0)));
  CHECK_FALSE(dns::isQuery(std::vector<uint8_t>(dns::kMaxQuery + 1, 0)));
  CHECK(dns::isQuery(std::vector<uint8_t>(dns::kMaxQuery, 0)));
}

TEST(DnsMessage, QuestionSectionEndsWhereItShould) {
  auto q = query("web.example");
  CHECK(dns::questionsEnd(q).has_value());
  LONGS_EQUAL(q.size(), *dns::questionsEnd(q));
  q.pop_back();  // class cut short
  CHECK_FALSE(dns::questionsEnd(q).has_value());
  std::vector<uint8_t> loop = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63};  // label runs past end
  CHECK_FALSE(dns::questionsEnd(loop).has_value());
}

TEST(DnsMessage, UdpLimitFromEdns) {
  LONGS_EQUAL(512, dns::udpAnswerLimit(query("web")));
  LONGS_EQUAL(1232, dns::udpAnswerLimit(query("web", 1232)));
  LONGS_EQUAL(512, dns::udpAnswerLimit(query("web", 100)));  // below 512 means 512
  auto broken = query("web", 4096);
  broken.resize(broken.size() - 8);  // OPT cut short
  LONGS_EQUAL(512, dns::udpAnswerLimit(broken));
}

TEST(DnsMessage, ServerFailureKeepsIdAndQuestion) {
  auto q = query("web");
  auto f = dns::serverFailure(q);
  LONGS_EQUAL(q.size(), f.size());
  LONGS_EQUAL(0x12, f[0]);
  LONGS_EQUAL(0x34, f[1]);
  LONGS_EQUAL(0x81, f[2]);  // QR, RD
  LONGS_EQUAL(0x82, f[3]);  // RA, SERVFAIL
  LONGS_EQUAL(1, f[5]);     // one question
  CHECK(std::equal(q.begin() + 12, q.end(), f.begin() + 12));
  // Garbage in: a bare header, no question copied.
  LONGS_EQUAL(12, dns::serverFailure(std::vector<uint8_t>(12, 0xff)).size());
}

TEST(DnsMessage, TruncatedAnswerHasTcAndNoRecords) {
  auto q = query("web");
  std::vector<uint8_t> answer = q;
  answer[2] = 0x81;
  answer[3] = 0x80;
  answer[7] = 40;  // 40 answers
  answer.resize(2000, 0xab);
  auto t = dns::truncatedAnswer(q, answer);
  LONGS_EQUAL(q.size(), t.size());
  LONGS_EQUAL(0x83, t[2]);  // QR, TC, RD
  LONGS_EQUAL(0, t[7]);
}

TEST(DnsMessage, TcpFramingChecksEveryQueryLength) {
  dns::TcpQueryFraming ok;
  auto q = query("web");
  std::vector<uint8_t> stream;
  for (int i = 0; i < 3; ++i) {
    stream.push_back(uint8_t(q.size() >> 8));
    stream.push_back(uint8_t(q.size()));
    stream.insert(stream.end(), q.begin(), q.end());
  }
  for (uint8_t b : stream) CHECK(ok.feed({&b, 1}));  // byte by byte
  dns::TcpQueryFraming big;
  CHECK(big.feed(stream));
  const uint8_t huge[] = {0x10, 0x01};  // 4097 bytes
  CHECK_FALSE(big.feed(huge));
  CHECK_FALSE(big.feed(stream));  // stays broken
  dns::TcpQueryFraming tiny;
  const uint8_t small[] = {0, 11};
  CHECK_FALSE(tiny.feed(small));
}

TEST(DnsMessage, ResolvConfNamingDockerDns) {
  CHECK(dns::resolvConfNamesDockerDns("search x\nnameserver 127.0.0.11\noptions ndots:0\n"));
  CHECK(dns::resolvConfNamesDockerDns("  nameserver\t127.0.0.11"));
  CHECK_FALSE(dns::resolvConfNamesDockerDns("nameserver 127.0.0.1\n"));
  CHECK_FALSE(dns::resolvConfNamesDockerDns("nameserver 127.0.0.111\n"));
  CHECK_FALSE(dns::resolvConfNamesDockerDns("# nameserver 127.0.0.11\n"));
  CHECK_FALSE(dns::resolvConfNamesDockerDns(""));
}
