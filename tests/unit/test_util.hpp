// Helpers shared by weir's tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
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

}  // namespace weir::testing
