#include "consume/consumer.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "core/json_text.h"
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

std::optional<GroupView> Consumer::group() const {
  std::lock_guard lock(mutex_);
  if (!grouped_) return std::nullopt;
  GroupView view{.name = options_.group, .member = member_id_, .partitions = {}};
  for (const auto& [partition, position] : positions_)
    view.partitions.push_back(partition);
  return view;
}

void append_group_json(std::string& out, const std::optional<GroupView>& group) {
  out += "\"group\":";
  if (!group) {
    out += "null";
    return;
  }
  out += "{\"name\":";
  append_json_string(out, group->name);
  out += ",\"member\":";
  append_json_string(out, group->member);
  out += ",\"partitions\":[";
  for (std::size_t i = 0; i < group->partitions.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(
        out, fmt::format("{}/{}", group->partitions[i].stream, group->partitions[i].index));
  }
  out += "]}";
}

Positions Consumer::positions() const {
  std::lock_guard lock(mutex_);
  return positions_;
}

std::optional<std::uint64_t> Consumer::lag() const {
  Positions positions;
  {
    std::lock_guard lock(mutex_);
    if (!known_) return std::nullopt;
    positions = positions_;
    if (!grouped_) return log::lag(log_, positions);
  }
  // In a group: the whole group's lag, the other members' partitions where the group
  // committed them.
  for (const auto& stream : options_.streams) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p) {
      const log::Partition partition(stream, p);
      if (positions.contains(partition)) continue;
      // While the group rebalances the brokers may not answer: the last answer, else 0 (a lag
      // too high rather than none).
      auto committed = log_.committed(options_.group, partition);
      std::lock_guard lock(mutex_);
      if (committed) group_committed_[partition] = committed.value().value_or(0);
      positions[partition] = group_committed_[partition];
    }
  }
  return log::lag(log_, positions);
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
  return take(owned_, true);
}

bool Consumer::take(const std::vector<log::Partition>& partitions, bool replace) {
  for (;;) {
    auto restored = client_.restore(partitions);
    if (restored) {
      Positions positions;
      for (const auto& partition : partitions) {
        auto it = restored.value().find(partition);
        positions[partition] = it == restored.value().end() ? 0 : it->second;
      }
      hold(positions);
      // The group learns where reading resumes, so that its lag is right for every member
      // even before this one reads anything new.
      if (member_) {
        for (const auto& [partition, position] : positions)
          member_->commit(partition, position);
      }
      std::lock_guard lock(mutex_);
      if (replace) positions_.clear();
      positions_.merge(positions);
      known_ = true;
      return true;
    }
    if (pause(fail("cannot start", restored.error()))) return false;
  }
}

bool Consumer::join() {
  if (!options_.group.empty()) {
    for (;;) {
      try {
        member_ = log_.join(options_.group, options_.streams);
        break;
      } catch (const std::exception& e) {
        if (pause(fail("cannot join its group", make_error(Errc::kUnavailable, e.what())))) {
          return false;
        }
      }
    }
  }
  if (member_) {
    // The group assigns the partitions: none until it has.
    std::lock_guard lock(mutex_);
    positions_.clear();
    known_ = true;
    grouped_ = true;
    return true;
  }
  for (const auto& stream : options_.streams) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p)
      owned_.emplace_back(stream, p);
  }
  return start_over();
}

void Consumer::assigned(const std::vector<log::Partition>& partitions) {
  for (const auto& partition : partitions) {
    if (std::find(owned_.begin(), owned_.end(), partition) == owned_.end()) {
      owned_.push_back(partition);
    }
  }
  std::lock_guard lock(mutex_);
  member_id_ = member_->id();
  // take() runs after poll() returns: restoring may wait out a backoff, and the group
  // protocol should not wait for it.
  pending_.insert(pending_.end(), partitions.begin(), partitions.end());
}

void Consumer::revoked(const std::vector<log::Partition>& partitions) {
  client_.release(partitions);
  Positions positions;
  {
    std::lock_guard lock(mutex_);
    for (const auto& partition : partitions) {
      auto it = positions_.find(partition);
      if (it == positions_.end()) continue;
      positions.insert(*it);
      positions_.erase(it);
    }
    std::erase_if(pending_, [&](const log::Partition& p) {
      return std::find(partitions.begin(), partitions.end(), p) != partitions.end();
    });
  }
  for (const auto& [partition, position] : positions)
    member_->commit(partition, position);
  std::erase_if(owned_, [&](const log::Partition& p) {
    return std::find(partitions.begin(), partitions.end(), p) != partitions.end();
  });
}

void Consumer::run() {
  if (options_.nice != 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), options_.nice);
  if (!join()) {
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
    if (member_ && !stopping) {
      member_->poll(*this);
      std::vector<log::Partition> pending;
      {
        std::lock_guard lock(mutex_);
        pending.swap(pending_);
      }
      if (!pending.empty() && !take(pending, false)) break;
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
    // In a group nothing wakes the consumer: other processes append, and the group protocol
    // moves partitions only while the member polls. It looks again soon.
    constexpr std::chrono::milliseconds kGroupQuietWait{100};
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock,
                 member_ ? std::min(options_.quiet_wait, kGroupQuietWait) : options_.quiet_wait,
                 [&] { return stopping_ || generation_ != seen; });
  }
  if (member_) {
    member_->leave(*this);  // at once: the others take the partitions over without waiting
    member_.reset();
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
    if (member_ && next > from) member_->commit(partition, next);
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
