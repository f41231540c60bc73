// Bringing a journal written by an older weir to this build's format
// version (journal/format.hpp: kJournalVersion), inside the owner's opening
// transaction, so an upgrade either happens whole or not at all.
//
// Version 1 -> 2: the internal records (attempt counts, the dead-letter
// settled ledger) move from weir.state, where they sat under pseudo-groups
// "<group>.attempts" / "<group>.dlq" that user groups could collide with,
// to weir.internal. A weir.state entry moves only if its key and value have
// the exact shape version 1 wrote for an internal record (v1_internal_key);
// everything else is a user's state and stays.
//
// Thread-safety: uses only the write transaction it is given.
#pragma once

#include <cstdint>

#include "journal/lmdb.hpp"
#include "weir/status.hpp"

namespace weir::internal {

struct MigrationDbis {
  MDB_dbi meta;
  MDB_dbi state;
  MDB_dbi internal;
};

// Migrates a journal of format version `from` (1..kJournalVersion) and
// stores kJournalVersion; returns how many records moved. Nothing to do for
// the current version.
Result<std::uint64_t> migrate_journal(MDB_txn* txn, std::uint32_t from, const MigrationDbis& dbis);

}  // namespace weir::internal
