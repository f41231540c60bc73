// KeyTable: an open-addressing index of caller-owned entries by string key,
// for TxnOverlay's hot path (one lookup per dedupe check and state read,
// one insert and one erase per key written).
//
// Linear probing over a power-of-two array of (hash, entry) slots, at most
// half full, with backward-shift deletion (no tombstones): a lookup hashes
// the key once, masks instead of dividing, and compares the cached 64-bit
// hash before the key bytes; erase() finds the entry's slot by pointer, with
// no key compare at all. Lookups take std::string_view (no key copy).
//
// Entry requirements: `std::string key` and `std::uint64_t hash` (set by
// the caller to KeyTable::hash_of(key) before insert). Entries are not
// owned: the caller keeps them alive while they are in the table.
//
// Thread-safety: none; the owner serialises every call (TxnOverlay: mu_).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::internal {

template <typename Entry>
class KeyTable {
 public:
  static std::uint64_t hash_of(std::string_view key) noexcept { return std::hash<std::string_view>{}(key); }

  std::size_t size() const noexcept { return size_; }

  // The entry whose key is `key` (hash: hash_of(key)), or null.
  Entry* find(std::string_view key, std::uint64_t hash) const noexcept {
    if (size_ == 0) return nullptr;
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.e) return nullptr;
      if (s.hash == hash && s.e->key == key) return s.e;
    }
  }

  // A hint that find(_, hash) or erase of an entry with this hash comes
  // soon: starts loading its home slot, so that a caller with many keys
  // (a batch) overlaps their cache misses. No effect on results.
  void prefetch(std::uint64_t hash) const noexcept {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
  }

  // Adds `e` (its key not in the table; e->hash set).
  void insert(Entry* e) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    place(e);
    ++size_;
  }

  // Removes `e`, which is in the table.
  void erase(const Entry* e) noexcept {
    std::size_t i = e->hash & mask_;
    while (slots_[i].e != e) i = (i + 1) & mask_;
    // Backward shift: pull later entries of the probe run into the hole
    // unless their home slot lies cyclically in (hole, their slot].
    for (std::size_t j = (i + 1) & mask_; slots_[j].e; j = (j + 1) & mask_) {
      const std::size_t home = slots_[j].hash & mask_;
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) continue;
      slots_[i] = slots_[j];
      i = j;
    }
    slots_[i] = Slot{};
    --size_;
  }

  // Calls fn(entry) for every entry (in no order).
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const Slot& s : slots_)
      if (s.e) fn(s.e);
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    Entry* e = nullptr;  // null: empty
  };

  void place(Entry* e) noexcept {
    std::size_t i = e->hash & mask_;
    while (slots_[i].e) i = (i + 1) & mask_;
    slots_[i] = Slot{e->hash, e};
  }

  void grow() {
    std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(slots_.empty() ? 64 : slots_.size() * 2));
    mask_ = slots_.size() - 1;
    for (const Slot& s : old)
      if (s.e) place(s.e);
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace weir::internal
