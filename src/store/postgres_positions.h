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
// $1 consumer; columns stream, partition, next_offset, skipped (read by rows_of).
inline constexpr const char* kPostgresSelect =
    "SELECT stream, partition, next_offset, skipped FROM sluice_positions WHERE consumer = $1";
Rows rows_of(const PGresult* result);

}  // namespace sluice::store::positions
