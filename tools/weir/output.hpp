// How the weir tool prints: aligned tables for people, JSON lines (one
// object per row) for machines, plus the text conversions both need.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace weir::cli {

using Row = nlohmann::ordered_json;

// A failure the tool reports as "weir: <message>" with exit code `code`.
struct Error {
  int code;
  std::string message;
};
// Exit codes (README "Command line: weir").
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitProblems = 3;

[[noreturn]] inline void fail(std::string message, int code = kExitRuntime) {
  throw Error{code, std::move(message)};
}

// Rows with named columns. Table mode buffers rows until flush() and prints
// the named columns aligned under a header (printed by the first flush, even
// with no rows; streams keep it and widen columns as needed). JSON mode
// prints each row object whole, one per line: fields that only machines
// need (kind, iteration) are left out of the columns.
// A column "key" whose value the row carries as "key_b64" (bytes that are
// not UTF-8) shows as "base64:<...>" in table mode.
//
// Thread-safety: not thread-safe (one command, one thread).
class Table {
 public:
  Table(std::vector<std::string> columns, bool json, std::FILE* out = stdout);
  void add(Row row);
  // Prints what is buffered; returns false if writing failed (stdout closed).
  bool flush();
  bool json() const noexcept { return json_; }

 private:
  std::string cell(const Row& row, const std::string& column) const;
  std::vector<std::string> columns_;
  bool json_;
  std::FILE* out_;
  std::vector<Row> rows_;
  std::vector<std::size_t> widths_;
  bool header_printed_ = false;
};

// Puts `bytes` under `name` when it is valid UTF-8, else base64 under
// name + "_b64".
void put_bytes(Row& row, const std::string& name, std::string_view bytes);
bool valid_utf8(std::string_view s) noexcept;
std::string base64(std::string_view bytes);
// The inverse of base64(); what is not base64 decodes to the empty string.
std::string unbase64(std::string_view text);
// Control characters as \n, \t, \r or \xNN, so one value stays on one line.
std::string escape_text(std::string_view s);
// Microseconds since the epoch as ISO-8601 UTC: 2026-11-27T10:00:00.123456Z.
std::string iso_time(std::int64_t time_us);
// "1.5 MiB"
std::string human_bytes(std::uint64_t bytes);

}  // namespace weir::cli
