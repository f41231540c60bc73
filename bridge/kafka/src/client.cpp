#include "client.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <thread>

namespace weir::kafka::detail {

namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return r;
}

Status set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char err[512] = {};
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
    return Status::invalid_argument("librdkafka: " + std::string(err));
  return Status::ok();
}

}  // namespace

Result<Conf> make_conf(const Config& user, const Config& defaults, const std::vector<Required>& required) {
  for (const Required& r : required)
    if (auto it = user.find(r.name); it != user.end() && lower(it->second) != lower(r.value))
      return Status::invalid_argument("kafka property '" + r.name + "' must be '" + r.value + "' (got '" +
                                      it->second + "'): " + r.why);
  Conf conf(rd_kafka_conf_new());
  for (const auto& [name, value] : defaults)
    if (!user.contains(name))
      if (Status s = set(conf.get(), name, value); !s) return s;
  for (const auto& [name, value] : user)
    if (Status s = set(conf.get(), name, value); !s) return s;
  for (const Required& r : required)
    if (Status s = set(conf.get(), r.name, r.value); !s) return s;
  return conf;
}

Result<Handle> make_client(rd_kafka_type_t type, Conf conf) {
  char err[512] = {};
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (rk == nullptr) return Status::invalid_argument("librdkafka: " + std::string(err));
  (void)conf.release();  // owned by rk now
  return Handle(rk);
}

Code code_for(rd_kafka_resp_err_t err) noexcept {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR: return Code::kOk;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return Code::kDeadlineExceeded;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_GROUP:
      return Code::kNotFound;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
      return Code::kInvalidArgument;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return Code::kResourceExhausted;
    case RD_KAFKA_RESP_ERR__DESTROY:
      return Code::kClosed;
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__STATE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return Code::kFailedPrecondition;
    default:
      return Code::kIoError;  // transport, broker and protocol errors
  }
}

Status status_for(rd_kafka_resp_err_t err, std::string_view what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::ok();
  return Status(code_for(err), std::string(what) + ": " + rd_kafka_err2str(err) + " (" + rd_kafka_err2name(err) + ")");
}

bool is_permanent(rd_kafka_resp_err_t err) noexcept {
  switch (err) {
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
      return true;
    default:
      return false;
  }
}

Result<std::uint32_t> partition_count(rd_kafka_t* rk, const std::string& topic,
                                      std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rkt == nullptr) return status_for(rd_kafka_last_error(), "kafka topic '" + topic + "'");
  Status last = Status::deadline_exceeded("no metadata for kafka topic '" + topic + "' within " +
                                          std::to_string(timeout.count()) + " ms");
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk, 0, rkt, &md, static_cast<int>(std::min<std::int64_t>(left.count(), 2000)));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      last = Status::deadline_exceeded("no metadata for kafka topic '" + topic + "' within " +
                                       std::to_string(timeout.count()) + " ms; last error: " +
                                       rd_kafka_err2str(err));
      continue;
    }
    std::optional<Result<std::uint32_t>> answer;
    for (int i = 0; i < md->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = md->topics[i];
      if (topic != t.topic) continue;
      if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || t.err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
        answer = Status::not_found("kafka topic '" + topic + "' does not exist: " + rd_kafka_err2str(t.err));
      else if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0)
        answer = static_cast<std::uint32_t>(t.partition_cnt);
      else if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR)
        last = status_for(t.err, "metadata of kafka topic '" + topic + "'");
    }
    rd_kafka_metadata_destroy(md);
    if (answer) {
      rd_kafka_topic_destroy(rkt);
      return *answer;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // leader election in progress
  }
  rd_kafka_topic_destroy(rkt);
  return last;
}

std::string format_time(std::int64_t time_us) {
  std::int64_t secs64 = time_us / 1'000'000, us = time_us % 1'000'000;
  if (us < 0) {  // floor for times before 1970
    us += 1'000'000;
    --secs64;
  }
  const std::time_t secs = static_cast<std::time_t>(secs64);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(us));
  return buf;
}

std::optional<std::int64_t> parse_time(std::string_view s) noexcept {
  // YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z, the form format_time writes and the
  // common UTC form; anything else falls back to the Kafka timestamp.
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > s.size()) return false;
    auto r = std::from_chars(s.data() + pos, s.data() + pos + len, out);
    return r.ec == std::errc() && r.ptr == s.data() + pos + len;
  };
  int y, mo, d, h, mi, se;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':')
    return std::nullopt;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) || !num(17, 2, se))
    return std::nullopt;
  std::size_t pos = 19;
  std::int64_t frac_us = 0;
  if (s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits < 6) frac_us = frac_us * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 6; ++k) frac_us *= 10;
  }
  if (pos + 1 != s.size() || (s[pos] != 'Z' && s[pos] != 'z')) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  const std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<std::int64_t>(t) * 1'000'000 + frac_us;
}

rd_kafka_headers_t* headers_for(const Message& m) {
  rd_kafka_headers_t* h = rd_kafka_headers_new(m.header_count() + 3);
  bool has_id = false, has_spec = false, has_time = false;
  for (std::size_t i = 0; i < m.header_count(); ++i) {
    const Header x = m.header_at(i);
    has_id = has_id || x.name == envelope_header::kId;
    has_spec = has_spec || x.name == envelope_header::kSpecVersion;
    has_time = has_time || x.name == kTimeHeader;
    rd_kafka_header_add(h, x.name.data(), static_cast<ssize_t>(x.name.size()), x.value.data(),
                        static_cast<ssize_t>(x.value.size()));
  }
  if (!has_id) {
    const std::string_view id = m.id();
    rd_kafka_header_add(h, envelope_header::kId.data(), static_cast<ssize_t>(envelope_header::kId.size()),
                        id.data(), static_cast<ssize_t>(id.size()));
  }
  if (!has_spec)
    rd_kafka_header_add(h, envelope_header::kSpecVersion.data(),
                        static_cast<ssize_t>(envelope_header::kSpecVersion.size()), "1.0", 3);
  if (!has_time) {
    const std::string t = format_time(m.time_us());
    rd_kafka_header_add(h, kTimeHeader.data(), static_cast<ssize_t>(kTimeHeader.size()), t.data(),
                        static_cast<ssize_t>(t.size()));
  }
  return h;
}

InboundEvent::InboundEvent(const rd_kafka_message_t* msg, std::string_view topic) {
  namespace hdr = envelope_header;
  if (msg->key != nullptr) event_.key = std::string_view(static_cast<const char*>(msg->key), msg->key_len);
  if (msg->payload != nullptr)
    event_.payload = std::string_view(static_cast<const char*>(msg->payload), msg->len);
  rd_kafka_timestamp_type_t tstype;
  const std::int64_t ts_ms = rd_kafka_message_timestamp(msg, &tstype);
  if (ts_ms > 0) event_.time_us = ts_ms * 1000;

  rd_kafka_headers_t* kh = nullptr;  // owned by msg
  std::vector<Header> free;
  bool seen_id = false, seen_source = false, seen_type = false, seen_ct = false, seen_schema = false,
       seen_version = false, seen_tp = false, seen_time = false;
  auto keep_unmapped = [&](std::string_view name, std::string_view value) {
    owned_.push_back("weir.kafka.unmapped." + std::string(name));
    free.push_back({owned_.back(), value});
  };
  if (rd_kafka_message_headers(msg, &kh) == RD_KAFKA_RESP_ERR_NO_ERROR && kh != nullptr) {
    const char* name = nullptr;
    const void* val = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0; rd_kafka_header_get_all(kh, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      const std::string_view n(name);
      const std::string_view v(val != nullptr ? static_cast<const char*>(val) : "", val != nullptr ? size : 0);
      auto first = [&](bool& seen, std::string_view& field) {
        if (seen) return keep_unmapped(n, v);
        seen = true;
        field = v;
      };
      if (n == hdr::kId) {
        first(seen_id, event_.id);
      } else if (n == hdr::kSource) {
        first(seen_source, event_.source);
      } else if (n == hdr::kType) {
        first(seen_type, event_.type);
      } else if (n == hdr::kContentType) {
        first(seen_ct, event_.content_type);
      } else if (n == hdr::kDataSchema) {
        first(seen_schema, event_.dataschema);
      } else if (n == hdr::kSpecVersion) {
        // weir writes its own ("1.0") whenever an event has an envelope.
        if (v != "1.0") keep_unmapped(n, v);
      } else if (n == hdr::kSchemaVersion) {
        std::uint32_t version = 0;
        auto r = std::from_chars(v.data(), v.data() + v.size(), version);
        if (seen_version || r.ec != std::errc() || r.ptr != v.data() + v.size()) {
          keep_unmapped(n, v);
        } else {
          seen_version = true;
          event_.schema_version = version;
        }
      } else if (n == hdr::kTraceparent) {
        if (seen_tp || !is_valid_traceparent(v)) {
          keep_unmapped(n, v);
        } else {
          seen_tp = true;
          event_.traceparent = v;
        }
      } else if (n == kTimeHeader && !seen_time) {
        seen_time = true;
        if (auto t = parse_time(v)) event_.time_us = *t;
        else keep_unmapped(n, v);
      } else if (n == kOffsetHeader || n == kTopicHeader) {
        keep_unmapped(n, v);  // ours to set below
      } else {
        free.push_back({n, v});
      }
    }
  }
  if (event_.id.empty()) {
    id_ = "kafka:" + std::string(topic) + "/" + std::to_string(msg->partition) + "/" + std::to_string(msg->offset);
    event_.id = id_;
  }
  offset_ = std::to_string(msg->offset);
  headers_ = std::move(free);
  headers_.push_back({kOffsetHeader, offset_});
  topic_ = std::string(topic);
  headers_.push_back({kTopicHeader, topic_});
  event_.headers = headers_;
}

}  // namespace weir::kafka::detail
