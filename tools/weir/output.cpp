#include "output.hpp"

#include <ctime>

namespace weir::cli {

Table::Table(std::vector<std::string> columns, bool json, std::FILE* out)
    : columns_(std::move(columns)), json_(json), out_(out), widths_(columns_.size(), 0) {
  for (std::size_t i = 0; i < columns_.size(); ++i) widths_[i] = columns_[i].size();
}

void Table::add(Row row) { rows_.push_back(std::move(row)); }

std::string Table::cell(const Row& row, const std::string& column) const {
  auto it = row.find(column);
  if (it == row.end()) {
    auto b = row.find(column + "_b64");
    if (b != row.end() && b->is_string()) return "base64:" + b->get<std::string>();
    return "-";
  }
  const Row& v = *it;
  if (v.is_null()) return "-";
  if (v.is_string()) return escape_text(v.get_ref<const std::string&>());
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_array()) {
    // Headers: [{"name":..., "value"/"value_b64":...}, ...] as name=value,...
    std::string s;
    for (const auto& e : v) {
      if (!s.empty()) s += ",";
      if (e.is_object() && e.contains("name")) {
        s += escape_text(e["name"].get<std::string>()) + "=";
        if (e.contains("value")) s += escape_text(e["value"].get<std::string>());
        else if (e.contains("value_b64")) s += "base64:" + e["value_b64"].get<std::string>();
      } else {
        s += e.dump();
      }
    }
    return s.empty() ? "-" : s;
  }
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
    return buf;
  }
  return v.dump();
}

bool Table::flush() {
  if (json_) {
    for (const Row& r : rows_) {
      const std::string line = r.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      std::fputs(line.c_str(), out_);
      std::fputc('\n', out_);
    }
  } else if (!rows_.empty() || !header_printed_) {
    std::vector<std::vector<std::string>> cells;
    for (const Row& r : rows_) {
      std::vector<std::string> line;
      for (std::size_t i = 0; i < columns_.size(); ++i) {
        line.push_back(cell(r, columns_[i]));
        widths_[i] = std::max(widths_[i], line.back().size());
      }
      cells.push_back(std::move(line));
    }
    auto print = [&](const std::vector<std::string>& line) {
      std::string s;
      for (std::size_t i = 0; i < line.size(); ++i) {
        s += line[i];
        if (i + 1 < line.size()) s.append(widths_[i] - line[i].size() + 2, ' ');
      }
      s += '\n';
      std::fputs(s.c_str(), out_);
    };
    if (!header_printed_) {
      std::vector<std::string> header;
      for (const auto& c : columns_) {
        std::string u;
        for (char ch : c) u += static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
        header.push_back(u);
      }
      print(header);
      header_printed_ = true;
    }
    for (const auto& line : cells) print(line);
  }
  rows_.clear();
  return std::fflush(out_) == 0 && !std::ferror(out_);
}

bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      return false;
    i += n + 1;
  }
  return true;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                            static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t v = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (i + 1 < bytes.size()) v |= std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void put_bytes(Row& row, const std::string& name, std::string_view bytes) {
  if (valid_utf8(bytes)) row[name] = std::string(bytes);
  else row[name + "_b64"] = base64(bytes);
}

std::string escape_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

std::string iso_time(std::int64_t time_us) {
  std::int64_t secs = time_us / 1000000;
  std::int64_t frac = time_us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return buf;
}

std::string human_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

}  // namespace weir::cli

namespace weir::cli {

std::string unbase64(std::string_view text) {
  std::string out;
  std::uint32_t v = 0;
  int bits = 0;
  for (char ch : text) {
    int d = ch >= 'A' && ch <= 'Z' ? ch - 'A'
            : ch >= 'a' && ch <= 'z' ? ch - 'a' + 26
            : ch >= '0' && ch <= '9' ? ch - '0' + 52
            : ch == '+' ? 62
            : ch == '/' ? 63
            : ch == '=' ? -2
                        : -1;
    if (d == -2) break;
    if (d < 0) return {};
    v = (v << 6) | static_cast<std::uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xFF);
    }
  }
  return out;
}

}  // namespace weir::cli
