// Helpers shared by weir's tests.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <memory>
#include <thread>

#include "weir/weir.hpp"

namespace weir::testing {

inline std::unique_ptr<Bus> open_bus(Options o = {}) {
  auto b = Bus::open(o);
  EXPECT_TRUE(b) << b.status().to_string();
  return std::move(b).value();
}

// Polls `pred` until it holds or `limit` passes; returns its last value.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

// A fresh, empty directory under the system temp directory, removed on
// destruction; options() points a bus at it.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / ("weir-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  Options options() const {
    Options o;
    o.data_dir = path_.string();
    return o;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace weir::testing
