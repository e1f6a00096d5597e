#pragma once
// PostgreSQL's side of the one positions table (positions.h): the statements that make it and
// move the rows of an earlier version's table, the upsert and the select.

#include <libpq-fe.h>

#include <string>

#include "store/positions.h"

namespace sluice::store::positions {

// PostgreSQL: statements that make the table and move the rows of `older`, to run in one
// transaction (they take the advisory lock the store's schema statements take, so sessions
// that start together do not race on the catalog).
std::string postgres_schema(const Older& older);
// $1 consumer, $2 stream, $3 partition, $4 next offset, $5 skipped since the last upsert.
inline constexpr const char* kPostgresUpsert =
    "INSERT INTO sluice_positions (consumer, stream, partition, next_offset, skipped) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (consumer, stream, partition) DO UPDATE SET "
    "next_offset = excluded.next_offset, skipped = sluice_positions.skipped + excluded.skipped";
// Fencing: a process that takes a partition over (at start, or when its consumer group assigns
// it) claims it: the row's epoch goes up by one, and it writes the partition only while the
// row's epoch is still its own (kPostgresFencedUpsert). A process that lost the partition but
// still writes (a zombie: paused, cut off from the brokers) finds another epoch and its
// transaction is rolled back, rows and all. The claim waits for a write in progress to commit
// (the row is locked), so the claimant reads the position that write left.
// $1 consumer, $2 stream, $3 partition; columns next_offset, skipped, epoch.
inline constexpr const char* kPostgresClaim =
    "INSERT INTO sluice_positions (consumer, stream, partition, next_offset, skipped, epoch) "
    "VALUES ($1, $2, $3, 0, 0, 1) ON CONFLICT (consumer, stream, partition) DO UPDATE SET "
    "epoch = sluice_positions.epoch + 1 RETURNING next_offset, skipped, epoch";
// kPostgresUpsert with $6 the epoch claimed: no row when another process claimed it since.
inline constexpr const char* kPostgresFencedUpsert =
    "INSERT INTO sluice_positions (consumer, stream, partition, next_offset, skipped, epoch) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (consumer, stream, partition) DO UPDATE SET "
    "next_offset = excluded.next_offset, skipped = sluice_positions.skipped + excluded.skipped "
    "WHERE sluice_positions.epoch = excluded.epoch RETURNING 1";
// The error of a write a later claim fenced off.
std::string fenced_message(const std::string& consumer, const log::Partition& partition);
// $1 consumer; columns stream, partition, next_offset, skipped (read by rows_of).
inline constexpr const char* kPostgresSelect =
    "SELECT stream, partition, next_offset, skipped FROM sluice_positions WHERE consumer = $1";
Rows rows_of(const PGresult* result);

}  // namespace sluice::store::positions
