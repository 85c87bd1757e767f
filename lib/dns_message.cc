#include "lib/dns_message.h"

#include <algorithm>

namespace kata::dns {
namespace {

constexpr uint16_t kTypeOpt = 41;

uint16_t be16(std::span<const uint8_t> b, size_t at) { return uint16_t(b[at] << 8 | b[at + 1]); }

void putBe16(std::vector<uint8_t>& out, size_t at, uint16_t v) {
  out[at] = uint8_t(v >> 8);
  out[at + 1] = uint8_t(v);
}

// The offset past the name starting at `at`, or nullopt. A compression pointer ends the name.
std::optional<size_t> skipName(std::span<const uint8_t> msg, size_t at) {
  for (size_t labels = 0; labels < 128; ++labels) {
    if (at >= msg.size()) return std::nullopt;
    const uint8_t len = msg[at];
    if (len == 0) return at + 1;
    if ((len & 0xc0) == 0xc0) return at + 2 <= msg.size() ? std::optional(at + 2) : std::nullopt;
    if (len & 0xc0) return std::nullopt;  // reserved label types
    at += 1 + len;
  }
  return std::nullopt;
}

// A reply header for `query`: its id and opcode/RD bits, QR and RA set, `rcode`, its question
// section when it parses (else none).
std::vector<uint8_t> replyHeader(std::span<const uint8_t> query, uint8_t rcode) {
  if (query.size() < kHeaderSize) return std::vector<uint8_t>(kHeaderSize, 0);
  // The query's header and question section, then the header is made a reply's.
  const std::optional<size_t> end = questionsEnd(query);
  std::vector<uint8_t> out(query.begin(), query.begin() + long(end.value_or(kHeaderSize)));
  out[2] = uint8_t(0x80 | (query[2] & 0x79));  // QR, the query's opcode and RD
  out[3] = uint8_t(0x80 | (rcode & 0x0f));     // RA
  if (!end) putBe16(out, 4, 0);
  for (size_t at = 6; at < kHeaderSize; at += 2) putBe16(out, at, 0);
  return out;
}

}  // namespace

bool isQuery(std::span<const uint8_t> msg) {
  return msg.size() >= kHeaderSize && msg.size() <= kMaxQuery && (msg[2] & 0x80) == 0;
}

std::optional<size_t> questionsEnd(std::span<const uint8_t> msg) {
  if (msg.size() < kHeaderSize) return std::nullopt;
  size_t at = kHeaderSize;
  const uint16_t count = be16(msg, 4);
  for (uint16_t i = 0; i < count; ++i) {
    auto end = skipName(msg, at);
    if (!end || *end + 4 > msg.size()) return std::nullopt;
    at = *end + 4;  // type, class
  }
  return at;
}

size_t udpAnswerLimit(std::span<const uint8_t> query) {
  auto at = questionsEnd(query);
  if (!at) return kClassicUdpSize;
  size_t pos = *at;
  const size_t records = size_t(be16(query, 6)) + be16(query, 8) + be16(query, 10);
  for (size_t i = 0; i < records; ++i) {
    auto end = skipName(query, pos);
    if (!end || *end + 10 > query.size()) return kClassicUdpSize;
    const uint16_t type = be16(query, *end);
    const uint16_t payload = be16(query, *end + 2);
    if (type == kTypeOpt) return std::max<size_t>(kClassicUdpSize, payload);
    pos = *end + 10 + be16(query, *end + 8);
  }
  return kClassicUdpSize;
}

std::vector<uint8_t> serverFailure(std::span<const uint8_t> query) { return replyHeader(query, 2); }

std::vector<uint8_t> truncatedAnswer(std::span<const uint8_t> query,
                                     std::span<const uint8_t> answer) {
  std::vector<uint8_t> out = replyHeader(query, answer.size() >= 4 ? answer[3] & 0x0f : 2);
  if (answer.size() >= kHeaderSize) {
    out[2] = answer[2];
    out[3] = answer[3];
  }
  out[2] |= 0x02;  // TC
  return out;
}

bool TcpQueryFraming::feed(std::span<const uint8_t> bytes) {
  size_t at = 0;
  while (!broken_ && at < bytes.size()) {
    if (remaining_ > 0) {
      const size_t take = std::min(remaining_, bytes.size() - at);
      remaining_ -= take;
      at += take;
      continue;
    }
    length_ = uint16_t(length_ << 8 | bytes[at++]);
    if (++lengthBytes_ < 2) continue;
    lengthBytes_ = 0;
    if (length_ < kHeaderSize || length_ > kMaxQuery) broken_ = true;
    remaining_ = length_;
    length_ = 0;
  }
  return !broken_;
}

bool resolvConfNamesDockerDns(std::string_view text) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto next = [&line]() {
      const size_t b = line.find_first_not_of(" \t\r");
      if (b == std::string_view::npos) return std::string_view();
      const size_t e = line.find_first_of(" \t\r", b);
      std::string_view word = line.substr(b, e == std::string_view::npos ? line.npos : e - b);
      line = e == std::string_view::npos ? std::string_view() : line.substr(e);
      return word;
    };
    if (next() == "nameserver" && next() == kDockerDnsAddress) return true;
  }
  return false;
}

}  // namespace kata::dns
