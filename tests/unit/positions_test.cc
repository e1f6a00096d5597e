// The one positions table: stores and sinks made by earlier versions open with their positions
// moved over, so an upgrade resumes where the old version stopped.
#include "store/positions.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sinks/sqlite/sqlite_event_sink.h"
#include "store/sqlite_store.h"
#include "test_util.h"

namespace sluice {
namespace {

using sluice::testing::TempDir;

bool has_table(const std::string& path, const char* table) {
  sqlite::Db db(path, /*read_only=*/true);
  auto stmt = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  stmt.bind(1, std::string_view(table));
  return stmt.step() == SQLITE_ROW;
}

// A database an earlier version left: `table` as it kept positions (with the skipped column
// or from before it), holding `rows` ("(consumer, stream, partition, next_offset[, skipped])").
void make_file(const std::string& path, const std::string& table, bool with_skipped,
               const std::string& rows) {
  sqlite::Db db(path, /*read_only=*/false);
  db.exec(fmt::format(
      "CREATE TABLE {} (consumer TEXT NOT NULL, stream TEXT NOT NULL, partition INTEGER NOT NULL, "
      "next_offset INTEGER NOT NULL, {} PRIMARY KEY (consumer, stream, partition)); "
      "INSERT INTO {} VALUES {}",
      table, with_skipped ? "skipped INTEGER NOT NULL DEFAULT 0," : "", table, rows));
}

TEST(Positions, AStoreFileOfAnEarlierVersionKeepsItsPositionsAndSkippedCounts) {
  TempDir dir;
  const std::string path = dir.str() + "/sluice.db";
  make_file(path, "consumer_offsets", /*with_skipped=*/true,
            "('store', 'web', 0, 42, 3), ('store', 'web', 1, 7, 0)");
  {
    sqlite::SqliteStore store(path);
    auto offsets = store.committed_offsets("store").value();
    EXPECT_EQ(offsets[log::Partition("web", 0)], 42u);
    EXPECT_EQ(offsets[log::Partition("web", 1)], 7u);
    auto skipped = store.skipped("store").value();
    EXPECT_EQ(skipped.size(), 1u);
    EXPECT_EQ(skipped[log::Partition("web", 0)], 3u);
  }
  EXPECT_FALSE(has_table(path, "consumer_offsets"));
  EXPECT_TRUE(has_table(path, store::positions::kTable));
  // Opened again (nothing left to move): the same positions.
  sqlite::SqliteStore again(path);
  EXPECT_EQ(again.committed_offsets("store").value()[log::Partition("web", 0)], 42u);
}

TEST(Positions, AFileFromBeforeTheSkippedCountMovesWithNoneSkipped) {
  TempDir dir;
  const std::string path = dir.str() + "/sluice.db";
  make_file(path, "consumer_offsets", /*with_skipped=*/false, "('store', 'iot', 2, 9)");
  sqlite::SqliteStore store(path);
  EXPECT_EQ(store.committed_offsets("store").value()[log::Partition("iot", 2)], 9u);
  EXPECT_TRUE(store.skipped("store").value().empty());
  EXPECT_FALSE(has_table(path, "consumer_offsets"));
}

TEST(Positions, ASinkDatabaseOfAnEarlierVersionKeepsThePipelinesPositions) {
  TempDir dir;
  const std::string path = dir.str() + "/warehouse.db";
  make_file(path, "pipeline_offsets", /*with_skipped=*/false,
            "('keep', 'web', 0, 5), ('other', 'web', 0, 8)");
  sinks::SqliteEventSink sink(path, "events", /*upsert=*/false);
  auto keep = sink.stored_positions(std::string(pipeline::kConsumerPrefix) + "keep").value();
  ASSERT_TRUE(keep.has_value());
  EXPECT_EQ(*keep, (pipeline::Positions{{log::Partition("web", 0), 5}}));
  auto other = sink.stored_positions(std::string(pipeline::kConsumerPrefix) + "other").value();
  EXPECT_EQ((*other)[log::Partition("web", 0)], 8u);
  EXPECT_FALSE(has_table(path, "pipeline_offsets"));
}

TEST(Positions, TheStoreAndAPipelineShareOneDatabaseWithoutMixingPositions) {
  TempDir dir;
  const std::string path = dir.str() + "/sluice.db";
  sqlite::SqliteStore store(path);
  sinks::SqliteEventSink sink(path, "copies", /*upsert=*/false);
  // A pipeline named "store" is still a consumer of its own.
  const std::string pipeline = std::string(pipeline::kConsumerPrefix) + "store";
  pipeline::SinkBatch batch{.consumer = pipeline, .records = {}, .next = {{{"web", 0}, 11}}};
  ASSERT_EQ(sink.write(batch).status, pipeline::WriteOutcome::Status::kDelivered);
  EXPECT_TRUE(store.committed_offsets("store").value().empty());
  EXPECT_EQ((*sink.stored_positions(pipeline).value())[log::Partition("web", 0)], 11u);
}

}  // namespace
}  // namespace sluice
