// Lists of keys and of state writes whose bytes live in one buffer: the
// shape of a transactional group's write set (journal.hpp WriteSet) and of
// one handler call's state writes (dispatch/transactional.cpp). Appending
// allocates only when the buffer grows (amortised, a few times per write
// set instead of once per key), clear() keeps the capacity for reuse, and
// the whole list is freed as one block (by the journal writer, for a write
// set: no per-key frees of another thread's allocations).
//
// Views returned by operator[], key() and value() stay valid until the
// next append or clear().
//
// Thread-safety: none; one owner at a time (a worker, then the writer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::internal {

// A list of byte strings (dedupe keys).
class KeyList {
 public:
  void push_back(std::string_view key) {
    spans_.push_back(Span{bytes_.size(), key.size()});
    bytes_.append(key);
  }
  std::size_t size() const noexcept { return spans_.size(); }
  bool empty() const noexcept { return spans_.empty(); }
  std::string_view operator[](std::size_t i) const noexcept {
    return std::string_view(bytes_.data() + spans_[i].at, spans_[i].size);
  }
  void clear() noexcept {
    bytes_.clear();
    spans_.clear();
  }

 private:
  struct Span {
    std::size_t at;
    std::size_t size;
  };
  std::string bytes_;
  std::vector<Span> spans_;
};

// State writes in order: key -> value, or key erased (value() nullopt).
class StateWrites {
 public:
  void put(std::string_view key, std::optional<std::string_view> value) {
    writes_.push_back(Write{bytes_.size(), key.size(), value ? value->size() : 0, !value});
    bytes_.append(key);
    if (value) bytes_.append(*value);
  }
  std::size_t size() const noexcept { return writes_.size(); }
  bool empty() const noexcept { return writes_.empty(); }
  std::string_view key(std::size_t i) const noexcept {
    return std::string_view(bytes_.data() + writes_[i].at, writes_[i].key_size);
  }
  std::optional<std::string_view> value(std::size_t i) const noexcept {
    const Write& w = writes_[i];
    if (w.erase) return std::nullopt;
    return std::string_view(bytes_.data() + w.at + w.key_size, w.value_size);
  }
  void clear() noexcept {
    bytes_.clear();
    writes_.clear();
  }

 private:
  struct Write {
    std::size_t at;          // key bytes at bytes_[at], the value's right after
    std::size_t key_size;
    std::size_t value_size;
    bool erase;
  };
  std::string bytes_;
  std::vector<Write> writes_;
};

}  // namespace weir::internal
