#include "store/postgres_positions.h"

#include <fmt/format.h>

namespace sluice::store::positions {

std::string postgres_schema(const Older& older) {
  // The older table may predate the skipped count; it is added before the rows move.
  return fmt::format(R"sql(
    SELECT pg_advisory_xact_lock(7365727321);
    CREATE TABLE IF NOT EXISTS sluice_positions (
      consumer text COLLATE "C" NOT NULL,
      stream text COLLATE "C" NOT NULL,
      partition integer NOT NULL,
      next_offset bigint NOT NULL,
      skipped bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (consumer, stream, partition));
    ALTER TABLE sluice_positions ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0;
    DO $$ BEGIN
      IF to_regclass('{0}') IS NOT NULL THEN
        ALTER TABLE {0} ADD COLUMN IF NOT EXISTS skipped bigint NOT NULL DEFAULT 0;
        INSERT INTO sluice_positions (consumer, stream, partition, next_offset, skipped)
          SELECT '{1}' || consumer, stream, partition, next_offset, skipped FROM {0}
          ON CONFLICT DO NOTHING;
        DROP TABLE {0};
      END IF;
    END $$;
  )sql",
                     older.table, older.consumer_prefix);
}

std::string fenced_message(const std::string& consumer, const log::Partition& partition) {
  return fmt::format(
      "{} no longer holds {}/{}: another process took it over (consumer group rebalance); the "
      "write was rolled back",
      consumer, partition.stream, partition.index);
}

Rows rows_of(const PGresult* result) {
  Rows rows;
  for (int i = 0; i < PQntuples(result); ++i) {
    rows[log::Partition(PQgetvalue(result, i, 0),
                        static_cast<std::uint32_t>(std::stoul(PQgetvalue(result, i, 1))))] = {
        .next = std::stoull(PQgetvalue(result, i, 2)),
        .skipped = std::stoull(PQgetvalue(result, i, 3))};
  }
  return rows;
}

}  // namespace sluice::store::positions
