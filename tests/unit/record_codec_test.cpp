// The record codec (record/record.hpp) and record batches (journal/batch.hpp):
// what encode_record writes decodes to the same event, and scan_batch
// rejects every truncated, oversized or lying record with kDataLoss naming
// where, before anything reaches the caller.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "journal/batch.hpp"
#include "record/record.hpp"

namespace weir::internal {
namespace {

std::string encode(const Event& e, std::int64_t time_us) {
  Envelope env;
  make_envelope(e, env);
  std::string rec(record_size(e, env), '\0');
  encode_record(e, env, time_us, rec.data());
  return rec;
}

// A sealed batch of `recs` at `base`.
std::string batch(const std::vector<std::string>& recs, std::uint64_t base) {
  std::size_t bytes = sizeof(BatchHeader);
  for (const auto& r : recs) bytes += kRecordFrame + r.size();
  std::string out(bytes, '\0');
  BatchHeader h{kBatchMagic, static_cast<std::uint32_t>(recs.size()), base, 0, static_cast<std::uint32_t>(bytes), 0};
  std::size_t pos = sizeof h;
  for (const auto& r : recs) {
    h.max_time_us = std::max(h.max_time_us, record_time_us(r.data()));
    pos += frame_record(out.data() + pos, r.data(), static_cast<std::uint32_t>(r.size()));
  }
  seal_batch_header(h);
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

std::vector<std::string> scan(const std::string& value, std::uint64_t key, Status* status) {
  std::vector<std::string> got;
  *status = scan_batch(value, "t", 2, key, 0, [&](std::uint64_t, std::string_view rec) {
    got.emplace_back(rec);
    return true;
  });
  return got;
}

TEST(RecordCodec, RoundTripsEveryField) {
  const Header free_headers[] = {{"trace", "abc"}, {"empty", ""}};
  const std::string payload("p\0q", 3);
  Event e{.key = "k1", .payload = payload, .headers = free_headers,
          .id = "id-1", .source = "/src", .type = "t.created", .schema_version = 42};
  const std::string rec = encode(e, 1234567);
  const Message m = decode_record(rec.data(), "topic", 3, 99, 2, 7);
  EXPECT_EQ(m.key(), "k1");
  EXPECT_EQ(m.payload(), std::string_view("p\0q", 3));
  EXPECT_EQ(m.topic(), "topic");
  EXPECT_EQ(m.partition(), 3u);
  EXPECT_EQ(m.offset(), 99u);
  EXPECT_EQ(m.attempt(), 2u);
  EXPECT_EQ(record_time_us(rec.data()), 1234567);
  EXPECT_EQ(m.header("trace"), std::optional<std::string_view>("abc"));
  EXPECT_EQ(m.header("empty"), std::optional<std::string_view>(""));
  EXPECT_EQ(m.header(envelope_header::kId), std::optional<std::string_view>("id-1"));
  EXPECT_EQ(m.header(envelope_header::kSchemaVersion), std::optional<std::string_view>("42"));
  EXPECT_EQ(m.header(envelope_header::kSpecVersion), std::optional<std::string_view>("1.0"));
  EXPECT_FALSE(m.header("absent"));
  // Four envelope headers (id, source, type, specversion), the schema
  // version, and the two free ones.
  EXPECT_EQ(m.header_count(), 7u);
}

TEST(RecordCodec, EmptyEventIsJustTheHead) {
  const std::string rec = encode(Event{}, 5);
  EXPECT_EQ(rec.size(), sizeof(RecordHead));
  const Message m = decode_record(rec.data(), "t", 0, 0, 1);
  EXPECT_TRUE(m.key().empty());
  EXPECT_TRUE(m.payload().empty());
  EXPECT_EQ(m.header_count(), 0u);
}

TEST(RecordCodec, BatchRoundTripsFromAnyOffset) {
  const std::vector<std::string> recs = {encode({.payload = "a"}, 1), encode({.payload = "b"}, 2),
                                         encode({.payload = "c"}, 3)};
  const std::string b = batch(recs, 10);
  std::vector<std::uint64_t> offsets;
  ASSERT_TRUE(scan_batch(b, "t", 0, 10, 11, [&](std::uint64_t o, std::string_view) {
    offsets.push_back(o);
    return true;
  }));
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{11, 12}));
  Status s;
  EXPECT_EQ(scan(b, 10, &s), recs);
  EXPECT_TRUE(s);
}

// A read that resumes inside a batch walks the records before `from`
// without checksumming them (they are not handed out): a damaged byte
// there does not stop it, but a damaged length there, and any damage in a
// record handed out, is still kDataLoss.
TEST(RecordCodec, ResumingInsideABatchChecksOnlyWhatItHandsOut) {
  std::vector<std::string> recs;
  for (int i = 0; i < 4; ++i) recs.push_back(encode({.key = "k", .payload = "payload-" + std::to_string(i)}, i));
  const std::string good = batch(recs, 10);
  const std::size_t first = sizeof(BatchHeader);
  const std::size_t second = first + kRecordFrame + recs[0].size();
  auto read_from = [](const std::string& v, std::uint64_t from, Status* s) {
    std::vector<std::uint64_t> offsets;
    *s = scan_batch(v, "t", 0, 10, from, [&](std::uint64_t o, std::string_view rec) {
      offsets.push_back(o);
      EXPECT_EQ(rec.substr(rec.size() - 9), "payload-" + std::to_string(o - 10));
      return true;
    });
    return offsets;
  };
  Status s;
  {
    std::string v = good;
    v[first + kRecordFrame + 26] ^= 0x40;  // a payload byte of offset 10
    EXPECT_EQ(read_from(v, 11, &s), (std::vector<std::uint64_t>{11, 12, 13}));
    EXPECT_TRUE(s) << s.to_string();
    read_from(v, 10, &s);
    EXPECT_NE(s.message().find("offset 10: record checksum mismatch"), std::string::npos) << s.to_string();
  }
  {
    // Offset 10's length grown to swallow offset 11 exactly: the walk would
    // hand out offset 12's record as 11; its head's field sum stops it.
    std::string v = good;
    const auto len = static_cast<std::uint32_t>(recs[0].size() + kRecordFrame + recs[1].size());
    std::memcpy(v.data() + first + 4, &len, 4);
    EXPECT_TRUE(read_from(v, 11, &s).empty());
    EXPECT_NE(s.message().find("offset 10: record fields do not add up"), std::string::npos) << s.to_string();
  }
  {
    std::string v = good;
    v[second + kRecordFrame + 26] ^= 0x40;  // a payload byte of offset 11, handed out
    EXPECT_TRUE(read_from(v, 11, &s).empty());
    EXPECT_NE(s.message().find("offset 11: record checksum mismatch"), std::string::npos) << s.to_string();
  }
}

TEST(RecordCodec, HeaderBlockWalk) {
  const Header hs[] = {{"a", "1"}, {"bb", ""}};
  std::string block(headers_bytes(hs), '\0');
  encode_headers(hs, block.data());
  EXPECT_TRUE(header_block_valid(block.data(), block.size(), 2));
  EXPECT_FALSE(header_block_valid(block.data(), block.size(), 1));  // more entries than the count
  EXPECT_FALSE(header_block_valid(block.data(), block.size(), 3));  // fewer
  EXPECT_FALSE(header_block_valid(block.data(), block.size() - 1, 2));  // last entry cut
  EXPECT_FALSE(header_block_valid(block.data(), 7, 1));                 // less than a length pair
  EXPECT_TRUE(header_block_valid(nullptr, 0, 0));
  std::string lying = block;
  const std::uint32_t huge = 0xFFFFFFF0u;
  std::memcpy(lying.data(), &huge, 4);
  EXPECT_FALSE(header_block_valid(lying.data(), lying.size(), 2));
}

// Each way a stored batch can be cut or lie is kDataLoss naming topic,
// partition and offset, and nothing after the damage reaches the caller.
TEST(RecordCodec, RejectsTruncatedAndOversizedRecords) {
  const std::vector<std::string> recs = {encode({.key = "k", .payload = "first"}, 1),
                                         encode({.payload = "second"}, 2)};
  const std::string good = batch(recs, 5);
  const std::size_t second = sizeof(BatchHeader) + kRecordFrame + recs[0].size();
  struct Case {
    const char* name;
    std::string value;
    const char* says;
    std::size_t before = 1;  // good records the caller may get before the damage
  };
  std::vector<Case> cases;
  cases.push_back({"shorter than a header", good.substr(0, 20), "batch truncated"});
  {
    std::string v = good;
    v[1] ^= 1;  // magic
    cases.push_back({"bad magic", v, "batch header checksum mismatch"});
  }
  {
    // Cut in the second record's frame; the header's byte count patched to
    // match, so the walk reaches the cut.
    std::string v = good.substr(0, second + 4);
    BatchHeader h;
    std::memcpy(&h, v.data(), sizeof h);
    h.bytes = static_cast<std::uint32_t>(v.size());
    seal_batch_header(h);
    std::memcpy(v.data(), &h, sizeof h);
    cases.push_back({"frame cut", v, "offset 6: record truncated"});
  }
  {
    std::string v = good;
    const std::uint32_t len = 1u << 30;
    std::memcpy(v.data() + second + 4, &len, 4);
    cases.push_back({"oversized length", v, "offset 6: record length 1073741824 is impossible"});
  }
  {
    std::string v = good;
    const std::uint32_t len = 3;
    std::memcpy(v.data() + second + 4, &len, 4);
    cases.push_back({"length below a record head", v, "record length 3 is impossible"});
  }
  {
    std::string v = good;
    v[second + kRecordFrame + 26] ^= 0x40;  // a payload byte of the second record
    cases.push_back({"flipped byte", v, "offset 6: record checksum mismatch"});
  }
  {
    // The first record's key length grown by one, its checksum made valid:
    // the fields no longer add up.
    std::string v = good;
    const std::size_t at = sizeof(BatchHeader);
    std::uint32_t key_len;
    std::memcpy(&key_len, v.data() + at + kRecordFrame + 8, 4);
    ++key_len;
    std::memcpy(v.data() + at + kRecordFrame + 8, &key_len, 4);
    const std::uint32_t crc = crc32c(v.data() + at + 4, 4 + recs[0].size());
    std::memcpy(v.data() + at, &crc, 4);
    cases.push_back({"fields do not add up", v, "offset 5: record fields do not add up"});
  }
  {
    std::string v = good + "xx";
    BatchHeader h;
    std::memcpy(&h, v.data(), sizeof h);
    h.bytes = static_cast<std::uint32_t>(v.size());
    seal_batch_header(h);
    std::memcpy(v.data(), &h, sizeof h);
    cases.push_back({"trailing bytes", v, "trailing bytes in batch", 2});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Status s;
    const auto got = scan(c.value, 5, &s);
    EXPECT_EQ(s.code(), Code::kDataLoss) << s.to_string();
    EXPECT_NE(s.message().find("topic 't' partition 2"), std::string::npos) << s.to_string();
    EXPECT_NE(s.message().find(c.says), std::string::npos) << s.to_string();
    EXPECT_LE(got.size(), c.before);
  }
  Status s;
  scan(good, 6, &s);  // stored under another key than its base offset
  EXPECT_EQ(s.code(), Code::kDataLoss);
}

}  // namespace
}  // namespace weir::internal
