#include "positions.hpp"

#include <charconv>
#include <ctime>

namespace weir::cli {

namespace {

bool digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

template <typename T>
bool number(std::string_view s, T& out) {
  if (!digits(s)) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<std::int64_t> parse_time_us(std::string_view s) {
  if (!s.empty() && s[0] == '@') {
    std::int64_t ms;
    if (!number(s.substr(1), ms) || ms > INT64_MAX / 1000) return std::nullopt;
    return ms * 1000;
  }
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':')
    return std::nullopt;
  int year, mon, day, hour, min, sec;
  if (!number(s.substr(0, 4), year) || !number(s.substr(5, 2), mon) || !number(s.substr(8, 2), day) ||
      !number(s.substr(11, 2), hour) || !number(s.substr(14, 2), min) || !number(s.substr(17, 2), sec))
    return std::nullopt;
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return std::nullopt;
  std::size_t i = 19;
  std::int64_t frac_us = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const std::size_t begin = i;
    std::int64_t scale = 100000;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      frac_us += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == begin) return std::nullopt;
  }
  std::int64_t zone_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int zh, zm;
    if (!number(s.substr(i + 1, 2), zh) || !number(s.substr(i + 4, 2), zm) || zh > 23 || zm > 59)
      return std::nullopt;
    zone_s = (s[i] == '+' ? 1 : -1) * (zh * 3600 + zm * 60);
    i += 6;
  } else {
    return std::nullopt;  // a time without a zone is ambiguous
  }
  if (i != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const std::time_t t = timegm(&tm);
  // timegm normalises 2026-02-31 to March: refuse days a month lacks.
  std::tm back{};
  gmtime_r(&t, &back);
  if (back.tm_mday != day && sec != 60) return std::nullopt;
  return (static_cast<std::int64_t>(t) - zone_s) * 1000000 + frac_us;
}

std::optional<Position> parse_position(std::string_view s) {
  Position p;
  if (s == "earliest") return p;
  if (s == "latest") {
    p.kind = Position::Kind::kLatest;
    return p;
  }
  if (digits(s)) {
    p.kind = Position::Kind::kOffset;
    if (!number(s, p.offset)) return std::nullopt;
    return p;
  }
  if (auto t = parse_time_us(s)) {
    p.kind = Position::Kind::kTime;
    p.time_us = *t;
    return p;
  }
  return std::nullopt;
}

std::string position_problem(const std::string& s) {
  if (parse_position(s)) return {};
  return "'" + s +
         "' is not earliest, latest, an offset, an ISO-8601 time (2026-11-27T10:00:00Z) or @unix-ms";
}

std::string time_problem(const std::string& s) {
  if (parse_time_us(s)) return {};
  return "'" + s + "' is not an ISO-8601 time (2026-11-27T10:00:00Z) or @unix-ms";
}

}  // namespace weir::cli

namespace weir::cli {

std::optional<std::int64_t> parse_duration_us(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty() || (s[0] != 'P' && s[0] != 'p')) return std::nullopt;
  s.remove_prefix(1);
  bool in_time = false, any = false;
  long double total_s = 0;
  while (!s.empty()) {
    if (s[0] == 'T' || s[0] == 't') {
      if (in_time) return std::nullopt;
      in_time = true;
      s.remove_prefix(1);
      continue;
    }
    std::size_t n = 0;
    while (n < s.size() && ((s[n] >= '0' && s[n] <= '9') || s[n] == '.' || s[n] == ',')) ++n;
    if (n == 0 || n == s.size()) return std::nullopt;
    std::string num(s.substr(0, n));
    for (char& ch : num)
      if (ch == ',') ch = '.';
    long double v = 0;
    try {
      std::size_t used = 0;
      v = std::stold(num, &used);
      if (used != num.size()) return std::nullopt;
    } catch (...) {
      return std::nullopt;
    }
    const char unit = static_cast<char>(s[n] & ~0x20);  // upper case
    if (!in_time && unit == 'D') total_s += v * 86400;
    else if (!in_time && unit == 'W') total_s += v * 7 * 86400;
    else if (in_time && unit == 'H') total_s += v * 3600;
    else if (in_time && unit == 'M') total_s += v * 60;
    else if (in_time && unit == 'S') total_s += v;
    else return std::nullopt;
    any = true;
    s.remove_prefix(n + 1);
  }
  if (!any || total_s > 1e11L) return std::nullopt;
  return static_cast<std::int64_t>(total_s * 1e6L);
}

}  // namespace weir::cli
