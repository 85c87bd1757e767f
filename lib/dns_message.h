// The little of the DNS wire format (RFC 1035, EDNS RFC 6891, DNS over TCP RFC 7766) that the
// relay of guest queries to Docker's embedded DNS server needs (agent/dns_relay.h,
// proxy/dns_relay.h): checks on untrusted messages, the answers the relay makes itself, and
// the framing of DNS over TCP. Pure functions: every input may come from a hostile guest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace kata::dns {

/// Docker's embedded DNS server answers at this address in a container's network namespace.
inline constexpr const char* kDockerDnsAddress = "127.0.0.11";
inline constexpr uint16_t kDnsPort = 53;
inline constexpr size_t kHeaderSize = 12;
/// The largest query the relay carries (a real one is a few dozen bytes; EDNS cookies and
/// long names stay far below). Anything bigger is refused, by the agent and by the proxy.
inline constexpr size_t kMaxQuery = 4096;
/// The answer size a UDP client accepts when its query has no EDNS option (RFC 1035).
inline constexpr size_t kClassicUdpSize = 512;

/// A message that may be a query: a full header, at most kMaxQuery bytes, QR bit clear.
bool isQuery(std::span<const uint8_t> msg);

/// The offset just past the question section of `msg` (after the header), or nullopt when the
/// section is malformed or runs past the end.
std::optional<size_t> questionsEnd(std::span<const uint8_t> msg);

/// The largest UDP answer the client of `query` accepts: its EDNS OPT record's payload size
/// (at least 512), else 512.
size_t udpAnswerLimit(std::span<const uint8_t> query);

/// A SERVFAIL answer to `query` (its id, opcode, RD bit and question section): what the relay
/// says when it cannot reach Docker's server, so that the client does not wait for its timeout.
std::vector<uint8_t> serverFailure(std::span<const uint8_t> query);

/// What a UDP client gets when `answer` is bigger than udpAnswerLimit(query): the answer's
/// header with TC set and no records, and the query's question, so that it asks again over TCP.
std::vector<uint8_t> truncatedAnswer(std::span<const uint8_t> query,
                                     std::span<const uint8_t> answer);

/// Checks the byte stream a DNS-over-TCP client sends (2-byte big-endian length, message,
/// repeated), fed in pieces of any size: every message must be between kHeaderSize and
/// kMaxQuery bytes. Holds no bytes, only where the next length starts.
class TcpQueryFraming {
 public:
  /// False once the stream broke the rule (and from then on).
  bool feed(std::span<const uint8_t> bytes);

 private:
  size_t lengthBytes_ = 0;  // bytes of the current length prefix seen (0..1)
  uint16_t length_ = 0;
  size_t remaining_ = 0;  // bytes of the current message still to come
  bool broken_ = false;
};

/// True when a resolv.conf's text names Docker's embedded server (`nameserver 127.0.0.11`), as
/// Docker writes it for a container on a user-defined network.
bool resolvConfNamesDockerDns(std::string_view text);

}  // namespace kata::dns
