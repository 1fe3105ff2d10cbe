// The name rules every backend shares (io/resolve.h): RFC 6761 special
// names, RFC 6724 destination order, RFC 8305 family interleaving.

#include "io/resolve.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "io/address.h"
#include "io/error.h"

namespace ember::io {
namespace {

Address Ip(const char* literal) { return *Address::ParseIp(literal, 0); }

std::vector<std::string> Strings(const std::vector<Address>& addresses) {
  std::vector<std::string> out;
  for (const Address& a : addresses) out.push_back(a.HostString());
  return out;
}

TEST(AnswerWithoutLookupTest, LocalhostNamesAreLoopbackInBothFamilies) {
  // Goal: RFC 6761 section 6.3: localhost and every name under .localhost,
  // in any case and with a final dot, are ::1 then 127.0.0.1.
  for (const char* name : {"localhost", "LOCALHOST", "localhost.",
                           "app.localhost", "a.b.LocalHost."}) {
    SCOPED_TRACE(name);
    auto answer = AnswerWithoutLookup(name);
    ASSERT_TRUE(answer.has_value());
    ASSERT_TRUE(answer->ok()) << answer->status();
    EXPECT_EQ(Strings(**answer), (std::vector<std::string>{"::1", "127.0.0.1"}));
  }
  // Look-alikes are ordinary names.
  for (const char* name : {"notlocalhost", "localhost.example", "xlocalhost."}) {
    EXPECT_FALSE(AnswerWithoutLookup(name).has_value()) << name;
  }
}

TEST(AnswerWithoutLookupTest, InvalidNamesNeverExist) {
  // Goal: RFC 6761 section 6.4: .invalid fails at once, as kNameNotFound;
  // so do names that cannot be valid.
  for (std::string name : {std::string("invalid"), std::string("x.INVALID."),
                           std::string(""), std::string(254, 'a'),
                           std::string("a\0b", 3)}) {
    auto answer = AnswerWithoutLookup(name);
    ASSERT_TRUE(answer.has_value()) << name;
    ASSERT_FALSE(answer->ok());
    EXPECT_EQ(KindOf(answer->status()), ErrorKind::kNameNotFound);
    EXPECT_EQ(answer->status().code(), absl::StatusCode::kNotFound);
  }
  EXPECT_FALSE(AnswerWithoutLookup("invalid.example").has_value());
  EXPECT_FALSE(AnswerWithoutLookup(std::string(253, 'a')).has_value());
}

TEST(AnswerWithoutLookupTest, LiteralsAnswerThemselves) {
  auto v4 = AnswerWithoutLookup("10.1.2.3");
  ASSERT_TRUE(v4.has_value() && v4->ok());
  EXPECT_EQ(**v4, std::vector<Address>{Ip("10.1.2.3")});
  auto v6 = AnswerWithoutLookup("[2001:db8::1]");
  ASSERT_TRUE(v6.has_value() && v6->ok());
  EXPECT_EQ(**v6, std::vector<Address>{Ip("2001:db8::1")});
  EXPECT_FALSE(AnswerWithoutLookup("example.com").has_value());
}

TEST(SortDestinationsTest, FollowsTheDefaultPolicyTable) {
  // Goal: RFC 6724 rule 6 with the default policy table: ::1 (50), then
  // IPv6 (40), then IPv4 (35), then 6to4 (30), Teredo (5), ULA (3) and the
  // deprecated site-local range (1); stable among equals.
  std::vector<Address> a = {Ip("fec0::1"),  Ip("fd00::1"),    Ip("2001::1"),
                            Ip("2002::1"),  Ip("192.0.2.1"),  Ip("2001:db8::2"),
                            Ip("192.0.2.2"), Ip("2001:db8::1"), Ip("::1")};
  SortDestinations(a);
  EXPECT_EQ(Strings(a),
            (std::vector<std::string>{"::1", "2001:db8::2", "2001:db8::1",
                                      "192.0.2.1", "192.0.2.2", "2002::1",
                                      "2001::1", "fd00::1", "fec0::1"}));
}

TEST(SortDestinationsTest, SmallerScopeFirstAndUnusableFamiliesLast) {
  // Goal: rule 8 (link-local before global among equal precedence) and
  // rule 1 (a family the local side has no address of goes last).
  std::vector<Address> a = {Ip("2001:db8::1"), Ip("fe80::1"), Ip("10.0.0.1"),
                            Ip("127.0.0.1")};
  SortDestinations(a);
  EXPECT_EQ(Strings(a), (std::vector<std::string>{"fe80::1", "2001:db8::1",
                                                  "127.0.0.1", "10.0.0.1"}));
  SortDestinations(a, UsableFamilies{.ipv4 = true, .ipv6 = false});
  EXPECT_EQ(Strings(a), (std::vector<std::string>{"127.0.0.1", "10.0.0.1",
                                                  "fe80::1", "2001:db8::1"}));
}

TEST(InterleaveFamiliesTest, AlternatesStartingWithTheFirstFamily) {
  // Goal: RFC 8305 section 4: A1 B1 A2 B2 ..., leftovers in order.
  std::vector<Address> sorted = {Ip("2001:db8::1"), Ip("2001:db8::2"),
                                 Ip("2001:db8::3"), Ip("10.0.0.1"),
                                 Ip("10.0.0.2")};
  EXPECT_EQ(Strings(InterleaveFamilies(sorted)),
            (std::vector<std::string>{"2001:db8::1", "10.0.0.1", "2001:db8::2",
                                      "10.0.0.2", "2001:db8::3"}));
  std::vector<Address> v4_first = {Ip("10.0.0.1"), Ip("10.0.0.2"), Ip("::1")};
  EXPECT_EQ(Strings(InterleaveFamilies(v4_first)),
            (std::vector<std::string>{"10.0.0.1", "::1", "10.0.0.2"}));
  EXPECT_TRUE(InterleaveFamilies({}).empty());
}

}  // namespace
}  // namespace ember::io
