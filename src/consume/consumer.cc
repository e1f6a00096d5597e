#include "consume/consumer.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/logging.h"
#include "core/redact.h"
#include "core/thread_name.h"

namespace sluice::consume {

Consumer::Consumer(Options options, log::Log& log, Client& client)
    : options_(std::move(options)), log_(log), client_(client) {
  // Nothing is deleted under log.retention_policy protect until the positions are known.
  for (const auto& stream : options_.streams) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p) {
      const log::Partition partition(stream, p);
      positions_[partition] = 0;
      log_.hold(options_.name, partition, 0);
    }
  }
}

Consumer::~Consumer() {
  stop();
}

void Consumer::start() {
  if (auto prepared = client_.prepare()) {
    std::lock_guard lock(mutex_);
    for (const auto& [partition, position] : *prepared)
      positions_[partition] = position;
    known_ = true;
  }
  thread_ = std::thread([this] {
    name_this_thread(options_.thread);
    run();
  });
}

void Consumer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Consumer::notify() {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  cv_.notify_all();
}

Progress Consumer::progress() const {
  std::lock_guard lock(mutex_);
  return progress_;
}

Positions Consumer::positions() const {
  std::lock_guard lock(mutex_);
  return positions_;
}

std::optional<std::uint64_t> Consumer::lag() const {
  std::lock_guard lock(mutex_);
  if (!known_) return std::nullopt;
  return log::lag(log_, positions_);
}

bool Consumer::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

bool Consumer::pause(std::chrono::milliseconds for_how_long) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, for_how_long, [&] { return stopping_; });
}

void Consumer::set_state(const char* state, const std::string& error) {
  std::lock_guard lock(mutex_);
  progress_.state = state;
  if (!error.empty()) progress_.last_error = redact_urls(error);
}

void Consumer::note_error(const std::string& error) {
  std::lock_guard lock(mutex_);
  progress_.last_error = redact_urls(error);
}

void Consumer::hold(const Positions& positions) {
  for (const auto& [partition, position] : positions)
    log_.hold(options_.name, partition, position);
}

// Logs a failure, marks the consumer retrying, and returns how long to wait.
std::chrono::milliseconds Consumer::fail(const char* what, const Error& error) {
  const auto wait = options_.backoff.next();
  logger(options_.logger)
      ->error("{} {} error=\"{}\" retry_in_ms={}", options_.who, what, error.message, wait.count());
  set_state("retrying", error.message);
  return wait;
}

bool Consumer::start_over() {
  for (;;) {
    auto restored = client_.restore();
    if (restored) {
      Positions positions;
      for (const auto& stream : options_.streams) {
        for (std::uint32_t p = 0; p < log_.partitions(stream); ++p) {
          const log::Partition partition(stream, p);
          auto it = restored.value().find(partition);
          positions[partition] = it == restored.value().end() ? 0 : it->second;
        }
      }
      hold(positions);
      std::lock_guard lock(mutex_);
      positions_ = std::move(positions);
      known_ = true;
      return true;
    }
    if (pause(fail("cannot start", restored.error()))) return false;
  }
}

void Consumer::run() {
  if (options_.nice != 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), options_.nice);
  if (!start_over()) {
    set_state("stopped");
    return;
  }
  set_state("running");
  client_.started();
  options_.backoff.reset();
  for (;;) {
    std::uint64_t seen;
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      stopping = stopping_;
      seen = generation_;
    }
    Pass pass = Pass::kIdle;
    if (!stopping && client_.wants_records()) {
      auto read = read_pass();
      if (!read) {
        if (pause(fail(options_.pass_failure, read.error()))) break;
        continue;
      }
      pass = read.value();
      client_.pass_done(pass != Pass::kIdle);
    }
    if (auto done = client_.after_pass(stopping); !done) {
      if (pause(fail("checkpoint failed", done.error()))) break;
      if (options_.restore_after_failed_checkpoint && !start_over()) break;
      continue;
    }
    options_.backoff.reset();
    {
      std::lock_guard lock(mutex_);
      if (progress_.state != "running") progress_.state = "running";
    }
    if (stopping) break;
    if (pass == Pass::kFull) continue;
    if (pass == Pass::kPartial) {
      if (options_.linger.count() > 0) pause(options_.linger);
      continue;
    }
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, options_.quiet_wait, [&] { return stopping_ || generation_ != seen; });
  }
  client_.finish();
  set_state("stopped");
}

Result<Consumer::Pass> Consumer::read_pass() {
  Pass result = Pass::kIdle;
  std::vector<std::pair<log::Partition, log::Offset>> partitions;
  {
    std::lock_guard lock(mutex_);
    partitions.assign(positions_.begin(), positions_.end());
  }
  for (const auto& [partition, from] : partitions) {
    auto read = log_.read(partition, from, options_.batch_events);
    if (!read) return read.error();
    const log::ReadBatch& batch = read.value();
    if (batch.records.empty() && batch.skipped == 0) {
      client_.nothing_new(partition, from);
      continue;
    }
    auto handled = client_.handle(partition, from, batch);
    if (!handled) return handled.error();
    const log::Offset next = handled.value().next;
    std::uint64_t taken = 0;
    for (const auto& record : batch.records)
      taken += record.offset < next ? 1 : 0;
    const std::uint64_t skipped = next > from ? batch.skipped : 0;
    // Reported once handled: a client that commits per batch holds the count with its position.
    if (skipped > 0) log_.report_skipped(options_.name, partition, from, skipped);
    if (options_.commits_per_batch) log_.hold(options_.name, partition, next);
    {
      std::lock_guard lock(mutex_);
      positions_[partition] = next;
      progress_.read += taken;
      progress_.skipped += skipped;
    }
    if (handled.value().full) {
      result = Pass::kFull;
    } else if (next > from && result == Pass::kIdle) {
      result = Pass::kPartial;
    }
    if (stopping()) break;
  }
  return result;
}

}  // namespace sluice::consume
