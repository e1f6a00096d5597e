// A window definition in a consumer group (window_job.h, partial_merge.h): the partitions this
// process holds, each with its own operator and checkpoint in PostgreSQL, and the merge of the
// windows every partition has closed.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/json.hpp>
#include <ranges>

#include "core/logging.h"
#include "core/thread_name.h"
#include "core/time.h"
#include "windows/window_job.h"

namespace sluice::windows {
namespace {

namespace json = boost::json;

std::string part_name(const log::Partition& p) {
  return fmt::format("{}/{}", p.stream, p.index);
}

std::optional<std::int64_t> known(std::int64_t ms) {
  return ms == INT64_MIN ? std::nullopt : std::optional<std::int64_t>(ms);
}

// Opens the PostgreSQL store once; the error otherwise (retried by the caller).
Result<void> open_once(std::unique_ptr<PostgresWindowStore>& store, const std::string& url) {
  if (store) return boost::outcome_v2::success();
  try {
    store = std::make_unique<PostgresWindowStore>(url);
  } catch (const std::exception& e) {
    return make_error(Errc::kUnavailable, e.what());
  }
  return boost::outcome_v2::success();
}

}  // namespace

Result<consume::Positions> WindowJob::restore_held(const std::vector<log::Partition>& partitions) {
  // The writer thread shares the connection: its checkpoint first.
  if (auto written = finish_writing(); !written) {
    logger("windows")->warn("window={} checkpoint failed error=\"{}\"", config_.name,
                            written.error().message);
  }
  if (auto opened = open_once(partition_store_, store_path_); !opened) return opened.error();
  consume::Positions positions;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& partition : partitions) {
    const std::string part = part_name(partition);
    auto claimed = partition_store_->claim(config_.name, part);
    if (!claimed) return claimed.error();
    auto& row = claimed.value();
    Held held{.op = std::nullopt, .epoch = row.epoch};
    held.op.emplace(spec_);
    if (!row.definition.empty() && row.definition != definition_) {
      logger("windows")->warn(
          "window={} definition changed: {} is read again from the start of the log", config_.name,
          part);
      if (auto forgotten = partition_store_->forget_partition(config_.name, part); !forgotten) {
        return forgotten.error();
      }
      row.next = 0;
    } else if (!row.definition.empty()) {
      boost::system::error_code ec;
      auto state = json::parse(row.state, ec);
      if (ec) return make_error(Errc::kCorrupt, "window store: unreadable state of " + part);
      auto restored = WindowOperator::load(spec_, state);
      if (!restored) return restored.error();
      held.op.emplace(std::move(restored.value()));
      if (auto limit = max_future_ms_.find(partition.stream); limit != max_future_ms_.end()) {
        held.op->cap_event_time(now_ms() + limit->second);
      }
    }
    held_.erase(partition);
    held_.emplace(partition, std::move(held));
    positions[partition] = row.next;
    last_event_[partition] = now;
    std::erase_if(partials_, [&](const PartitionPartial& p) { return p.part == part; });
  }
  logger("windows")->info(
      "window={} group=windows.{} holds={}", config_.name, config_.name,
      fmt::join(positions | std::views::keys | std::views::transform(part_name), ","));
  next_checkpoint_ = now + config_.checkpoint_every;
  next_merge_ = now;
  return positions;
}

void WindowJob::release(const std::vector<log::Partition>& partitions) {
  if (!grouped_) return;
  // What this process made of them is saved before another takes them over.
  if (auto written = finish_writing(); !written) {
    logger("windows")->warn("window={} checkpoint failed error=\"{}\"", config_.name,
                            written.error().message);
  }
  const auto all = consume::Positions(consumer_.positions());
  consume::Positions leaving;
  for (const auto& p : partitions) {
    if (auto it = all.find(p); it != all.end() && held_.contains(p)) leaving.insert(*it);
  }
  std::vector<PartitionPartial> partials;
  for (const auto& [partition, next] : leaving) {
    const std::string part = part_name(partition);
    for (auto& p : partials_) {
      if (p.part == part) partials.push_back(std::move(p));
    }
    std::erase_if(partials_, [&](const PartitionPartial& p) { return p.part == part; });
  }
  Result<void> saved = outbox_.send(log_);
  if (saved && partition_store_) {
    saved = partition_store_->save_partitions(config_.name, held_checkpoints(leaving), partials);
  }
  if (!saved) {
    logger("windows")->warn("window={} releasing without a last checkpoint error=\"{}\"",
                            config_.name, saved.error().message);
  }
  for (const auto& partition : partitions) {
    held_.erase(partition);
    last_event_.erase(partition);
  }
}

void WindowJob::close_held(std::chrono::steady_clock::time_point now, bool read_any) {
  std::size_t open = 0;
  std::optional<std::int64_t> watermark;
  for (auto& [partition, held] : held_) {
    if (!read_any && config_.close_after_idle.count() > 0) {
      close_if_quiet(*held.op, last_event_[partition], now);
    }
    for (auto& partial : held.op->close_ready_partials()) {
      partials_.push_back({part_name(partition), std::move(partial)});
      dirty_ = true;
    }
    open += held.op->open_windows();
    if (auto w = known(held.op->closed_until())) {
      watermark = std::min(watermark.value_or(INT64_MAX), *w);
    }
  }
  std::lock_guard lock(mutex_);
  status_.open_windows = open;
  status_.pending_results = partials_.size();
  status_.watermark_ms = watermark;
}

std::vector<PostgresWindowStore::PartitionCheckpoint> WindowJob::held_checkpoints(
    const consume::Positions& positions) const {
  std::vector<PostgresWindowStore::PartitionCheckpoint> out;
  for (const auto& [partition, next] : positions) {
    auto held = held_.find(partition);
    if (held == held_.end()) continue;
    const WindowOperator& op = *held->second.op;
    const std::string part = part_name(partition);
    out.push_back({.part = part,
                   .definition = definition_,
                   .state = json::serialize(op.save()),
                   .next = next,
                   .epoch = held->second.epoch,
                   .closed_until = known(op.closed_until()),
                   .idle = op.idle(part),
                   .open_from = op.earliest_open_start()});
  }
  return out;
}

Result<void> WindowJob::checkpoint_held() {
  if (auto written = finish_writing(); !written) return written.error();
  const consume::Positions positions = consumer_.positions();
  auto checkpoints = held_checkpoints(positions);
  {
    std::lock_guard lock(mutex_);
    writing_results_ = 0;
  }
  writing_ = std::async(
      std::launch::async, [this, positions, checkpoints = std::move(checkpoints),
                           partials = std::move(partials_), outbox = std::move(outbox_)]() mutable {
        name_this_thread("sluice-wcheck");
        Result<void> written = outbox.send(log_);
        if (written)
          written = partition_store_->save_partitions(config_.name, checkpoints, partials);
        if (!written) return written;
        consumer_.hold(positions);
        std::lock_guard lock(mutex_);
        status_.checkpoint_ms = now_ms();
        return Result<void>(boost::outcome_v2::success());
      });
  partials_.clear();
  outbox_ = consume::Outbox();
  dirty_ = false;
  return boost::outcome_v2::success();
}

Result<void> WindowJob::merge() {
  if (auto opened = open_once(merge_store_, store_path_); !opened) return opened.error();
  auto begun = merge_store_->begin_merge(config_.name);
  if (!begun) return begun.error();
  if (!begun.value()) return boost::outcome_v2::success();  // another process merges now
  auto fail = [&](Error error) -> Result<void> {
    merge_store_->abort_merge();
    return error;
  };
  auto rows = merge_store_->partitions(config_.name);
  if (!rows) return fail(rows.error());
  std::vector<PartitionProgress> progress;
  for (const auto& stream : config_.from) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p) {
      const log::Partition partition(stream, p);
      const std::string part = part_name(partition);
      auto row = std::find_if(rows.value().begin(), rows.value().end(),
                              [&](const auto& r) { return r.part == part; });
      PartitionProgress seen{.part = part};
      if (row == rows.value().end() || row->definition != definition_) {
        seen.unread = log_.end_offset(partition) > 0;
      } else {
        seen.closed_until = row->closed_until;
        seen.idle = row->idle;
        seen.open_from = row->open_from;
        seen.unread = !row->closed_until && log_.end_offset(partition) > row->next;
      }
      progress.push_back(std::move(seen));
    }
  }
  auto bounds = merge_bounds(progress);
  if (!bounds) {
    // A partition with events has shown none yet: nothing is final.
    merge_store_->abort_merge();
    return boost::outcome_v2::success();
  }
  // Idle partitions held here close what the active ones have closed: their share of those
  // windows goes with the next checkpoint, and the merge after it takes them.
  for (auto& [partition, held] : held_) {
    const std::string part = part_name(partition);
    if (!held.op->idle(part) || held.op->closed_until() >= bounds->follow) continue;
    held.op->close_through(bounds->follow);
    for (auto& partial : held.op->close_ready_partials())
      partials_.push_back({part, std::move(partial)});
    dirty_ = true;
  }
  auto candidates = merge_store_->merge_candidates(
      config_.name, spec_.kind == WindowSpec::Kind::kSession, bounds->merge_until);
  if (!candidates) return fail(candidates.error());
  auto merged = merge_partials(spec_, candidates.value(), *bounds);
  if (!merged) return fail(merged.error());
  if (merged.value().results.empty()) {
    merge_store_->abort_merge();
    return boost::outcome_v2::success();
  }
  // Alerts and published results reach their streams before the merge commits: a merge that
  // fails sends them again under the same ids.
  consume::Outbox kept = std::move(outbox_);
  outbox_ = consume::Outbox();
  check_alerts(merged.value().results, /*final=*/true);
  for (auto& r : merged.value().results)
    r.values.erase(kEventIds);
  publish(merged.value().results, /*final=*/true);
  auto sent = outbox_.send(log_);
  outbox_ = std::move(kept);
  if (!sent) return fail(sent.error());
  if (auto finished = merge_store_->finish_merge(config_.name, merged.value()); !finished) {
    return finished;
  }
  std::lock_guard lock(mutex_);
  status_.results += merged.value().results.size();
  return boost::outcome_v2::success();
}

}  // namespace sluice::windows
