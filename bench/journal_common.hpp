// What the journaled workloads (d1, d1-2p, d2, s1, o1) share: the event
// shape DESIGN.md fixes (16-byte key + 100-byte payload that starts with the
// event's number), scratch directories, and the raw LMDB environment the
// baselines write and read.
//
// Raw layout: one DBI "log", key = the event's global sequence number (8
// bytes, big-endian) so every put is an MDB_APPEND, value = key + payload;
// "offsets" (the reader's position) and "state" (s1's per-key state).
#pragma once

#include <lmdb.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "workloads.hpp"

namespace weir::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
inline constexpr std::uint32_t kPartitions = 8;
inline constexpr std::size_t kKeyBytes = 16, kPayloadBytes = 100, kEventBytes = kKeyBytes + kPayloadBytes;

inline std::uint64_t ns_since(Clock::time_point t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count());
}

// Event i: a 16-byte key and a 100-byte payload that starts with i.
inline void make_event(std::uint64_t i, char* key, char* payload) {
  char k[kKeyBytes + 1];
  std::snprintf(k, sizeof k, "key-%012llu", static_cast<unsigned long long>(i));
  std::memcpy(key, k, kKeyBytes);
  std::memset(payload, 'v', kPayloadBytes);
  std::memcpy(payload, &i, 8);
}

inline fs::path fresh_dir(const Config& c, const char* name) {
  fs::path d = fs::path(c.dir.empty() ? fs::temp_directory_path().string() : c.dir) / name;
  fs::remove_all(d);
  return d;
}

inline std::uint64_t expected_sum(std::uint64_t n) { return n * (n - 1) / 2; }

inline void be64(char* out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

// One raw LMDB environment (see the layout above). Not thread-safe: one
// writer thread, as LMDB requires.
struct RawEnv {
  MDB_env* env = nullptr;
  MDB_dbi log = 0, offsets = 0, state = 0;
  RawEnv() = default;
  RawEnv(const RawEnv&) = delete;
  RawEnv& operator=(const RawEnv&) = delete;
  ~RawEnv() {
    if (env) mdb_env_close(env);
  }
  bool open(const fs::path& dir) {
    fs::create_directories(dir);
    if (mdb_env_create(&env)) return false;
    mdb_env_set_maxdbs(env, 4);
    mdb_env_set_mapsize(env, std::size_t{16} << 30);
    if (mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0600)) return false;
    MDB_txn* txn;
    if (mdb_txn_begin(env, nullptr, 0, &txn)) return false;
    mdb_dbi_open(txn, "log", MDB_CREATE, &log);
    mdb_dbi_open(txn, "offsets", MDB_CREATE, &offsets);
    mdb_dbi_open(txn, "state", MDB_CREATE, &state);
    return mdb_txn_commit(txn) == 0;
  }
};

// Visits the raw log's events from sequence number `pos` on, at most `max`,
// within `txn`: fn(const char* event) for each (key, then payload), false
// to stop with an error. Returns how many were visited, or -1 on an error.
template <typename Fn>
long visit_log(MDB_txn* txn, const RawEnv& raw, std::uint64_t pos, std::uint32_t max, Fn&& fn) {
  MDB_cursor* cur;
  if (mdb_cursor_open(txn, raw.log, &cur)) return -1;
  char k8[8];
  be64(k8, pos);
  MDB_val k{8, k8}, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  long n = 0;
  for (; rc == 0 && n < max; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), ++n)
    if (!fn(static_cast<const char*>(v.mv_data))) {
      n = -1;
      break;
    }
  mdb_cursor_close(cur);
  return rc != 0 && rc != MDB_NOTFOUND ? -1 : n;
}

// Stores the raw reader's position (the next sequence number) in `txn`.
inline bool put_raw_offset(MDB_txn* txn, const RawEnv& raw, std::uint64_t pos) {
  char v8[8];
  be64(v8, pos);
  MDB_val k{1, const_cast<char*>("r")}, v{8, v8};
  return mdb_put(txn, raw.offsets, &k, &v, 0) == 0;
}

// The d1 run that loads events for the read-back workloads (d2, s1, o1):
// one producer, not reported.
inline Config loader_config(const Config& c) {
  Config w = c;
  w.workload = "d1";
  w.producers = 1;
  return w;
}

// Raw LMDB d1 into `dir` (what d2 and s1's baselines read back).
Result raw_d1(const Config& c, const fs::path& dir);
// Weir d1 into `dir`: topic "d1", journaled, kPartitions partitions.
Result weir_d1(const Config& c, const fs::path& dir);
// A plain group "d2" reads topic "d1" of `dir` back, durable offsets every 1,000.
Result weir_d2(const Config& c, const fs::path& dir, std::uint64_t events);

}  // namespace weir::bench
