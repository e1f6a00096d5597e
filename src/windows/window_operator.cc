#include "windows/window_operator.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_text.h"
#include "core/time.h"
#include "pipeline/field_path.h"

namespace sluice::windows {
namespace {

namespace json = boost::json;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string span(std::int64_t start, std::int64_t end) {
  return fmt::format("[{}, {})", format_iso8601_ms(start), format_iso8601_ms(end));
}

}  // namespace

void WindowOperator::write_key(const json::value& event, std::string& out) const {
  out = "[";
  for (std::size_t i = 0; i < spec_.key_fields.size(); ++i) {
    if (i > 0) out += ',';
    const json::value* v = pipeline::find_field(event, spec_.key_fields[i]);
    if (!v) {
      out += "null";
    } else if (v->is_string()) {
      append_json_string(out, v->get_string());
    } else {
      out += json::serialize(*v);
    }
  }
  out += ']';
}

std::string WindowOperator::key_of(const json::value& event) const {
  std::string out;
  write_key(event, out);
  return out;
}

std::int64_t WindowOperator::partition_watermark(const PartitionClock& clock) const {
  if (clock.max_ts == INT64_MIN) return INT64_MIN;
  return clock.max_ts - spec_.allowed_lateness_ms;
}

std::int64_t WindowOperator::watermark() const {
  std::optional<std::int64_t> lowest_active;
  std::int64_t highest = INT64_MIN;
  for (const auto& [name, clock] : partitions_) {
    if (clock.max_ts == INT64_MIN) {
      if (clock.held && !clock.idle) return INT64_MIN;
      continue;
    }
    const std::int64_t w = partition_watermark(clock);
    highest = std::max(highest, w);
    if (!clock.idle) lowest_active = std::min(lowest_active.value_or(INT64_MAX), w);
  }
  return lowest_active.value_or(highest);
}

std::int64_t WindowOperator::latest_event_time() const {
  std::int64_t latest = INT64_MIN;
  for (const auto& [name, clock] : partitions_)
    latest = std::max(latest, clock.max_ts);
  return latest;
}

bool WindowOperator::cap_event_time(std::int64_t limit_ms) {
  bool capped = false;
  for (auto& [name, clock] : partitions_) {
    if (clock.max_ts > limit_ms) {
      clock.max_ts = limit_ms;
      capped = true;
    }
  }
  return capped;
}

void WindowOperator::observe(const std::string& partition, std::int64_t ts) {
  PartitionClock& clock = partitions_[partition];
  clock.idle = false;
  clock.max_ts = std::max(clock.max_ts, ts);
}

void WindowOperator::hold(const std::string& partition) {
  PartitionClock& clock = partitions_[partition];
  clock.held = true;
  clock.idle = false;
}

void WindowOperator::set_idle(const std::string& partition, bool idle) {
  partitions_[partition].idle = idle;
}

Accumulator& WindowOperator::window(std::string_view key, std::int64_t start, std::int64_t end) {
  auto found = by_key_.find(key);
  if (found != by_key_.end()) {
    for (auto& [window_start, it] : found->second) {
      if (window_start == start) return it->second;
    }
  } else {
    found = by_key_.try_emplace(std::string(key)).first;
  }
  auto it =
      windows_.emplace(WindowId{end, std::string(key), start}, Accumulator(spec_.aggregates)).first;
  found->second.emplace_back(start, it);
  return it->second;
}

void WindowOperator::unindex(const WindowId& id) {
  auto found = by_key_.find(id.key);
  if (found == by_key_.end()) return;
  auto& windows = found->second;
  windows.erase(std::remove_if(windows.begin(), windows.end(),
                               [&](const auto& entry) { return entry.first == id.start; }),
                windows.end());
  if (windows.empty()) by_key_.erase(found);
}

std::optional<std::string> WindowOperator::add(const std::string& partition, std::int64_t ts,
                                               const json::value& event, std::string_view id) {
  PartitionClock& clock = partitions_[partition];
  clock.idle = false;
  clock.max_ts = std::max(clock.max_ts, ts);
  // A window ending at or before `floor` takes nothing more.
  const std::int64_t floor = std::max(partition_watermark(clock), closed_until_);
  write_key(event, key_buffer_);
  const std::string& key = key_buffer_;
  switch (spec_.kind) {
    case WindowSpec::Kind::kTumbling: {
      const std::int64_t start = floor_div(ts, spec_.size_ms) * spec_.size_ms;
      const std::int64_t end = start + spec_.size_ms;
      if (end <= floor) {
        return fmt::format("window {} closed: watermark {}", span(start, end),
                           format_iso8601_ms(floor));
      }
      window(key, start, end).add(spec_.aggregates, event, id);
      return std::nullopt;
    }
    case WindowSpec::Kind::kHopping: {
      const std::int64_t first = floor_div(ts - spec_.size_ms, spec_.every_ms) + 1;
      const std::int64_t last = floor_div(ts, spec_.every_ms);
      bool taken = false;
      for (std::int64_t k = first; k <= last; ++k) {
        const std::int64_t start = k * spec_.every_ms;
        const std::int64_t end = start + spec_.size_ms;
        if (end <= floor) continue;
        window(key, start, end).add(spec_.aggregates, event, id);
        taken = true;
      }
      if (taken) return std::nullopt;
      return fmt::format("windows up to {} closed: watermark {}",
                         span(last * spec_.every_ms, last * spec_.every_ms + spec_.size_ms),
                         format_iso8601_ms(floor));
    }
    case WindowSpec::Kind::kSession:
      if (add_to_session(key, ts, floor, event, id)) return std::nullopt;
      return fmt::format("session {} closed: watermark {}", span(ts, ts + spec_.gap_ms),
                         format_iso8601_ms(floor));
  }
  return std::nullopt;
}

bool WindowOperator::add_to_session(const std::string& key, std::int64_t ts, std::int64_t floor,
                                    const json::value& event, std::string_view id) {
  auto& sessions = sessions_[key];
  std::int64_t start = ts;
  std::int64_t end = ts + spec_.gap_ms;
  // Open sessions of the key that [ts, ts + gap) touches: their start is before its end and
  // their end after its start. They are disjoint and sorted by start.
  std::vector<std::pair<std::int64_t, std::int64_t>> touched;
  for (auto it = sessions.begin(); it != sessions.end() && it->first < end; ++it) {
    if (it->second > ts) touched.emplace_back(it->first, it->second);
  }
  for (const auto& [s, e] : touched)
    end = std::max(end, e);
  if (end <= floor) {
    if (sessions.empty()) sessions_.erase(key);
    return false;
  }
  Accumulator merged(spec_.aggregates);
  merged.add(spec_.aggregates, event, id);
  for (const auto& [s, e] : touched) {
    auto node = windows_.extract(WindowId{e, key, s});
    merged.merge(spec_.aggregates, node.mapped());
    sessions.erase(s);
    start = std::min(start, s);
  }
  sessions[start] = end;
  windows_.emplace(WindowId{end, key, start}, std::move(merged));
  return true;
}

template <class Out>
void WindowOperator::take_ready(Out out) {
  closed_until_ = std::max(closed_until_, watermark());
  while (!windows_.empty() && windows_.begin()->first.end <= closed_until_) {
    unindex(windows_.begin()->first);
    auto node = windows_.extract(windows_.begin());
    const WindowId& id = node.key();
    out(id.key, id.start, id.end, node.mapped());
    if (spec_.kind == WindowSpec::Kind::kSession) {
      auto sessions = sessions_.find(id.key);
      if (sessions != sessions_.end()) {
        sessions->second.erase(id.start);
        if (sessions->second.empty()) sessions_.erase(sessions);
      }
    }
  }
}

std::vector<WindowResult> WindowOperator::close_ready() {
  std::vector<WindowResult> results;
  take_ready(
      [&](const std::string& key, std::int64_t start, std::int64_t end, const Accumulator& acc) {
        results.push_back({key, start, end, acc.events(), acc.result(spec_.aggregates)});
      });
  return results;
}

std::vector<WindowPartial> WindowOperator::close_ready_partials() {
  std::vector<WindowPartial> partials;
  take_ready(
      [&](const std::string& key, std::int64_t start, std::int64_t end, const Accumulator& acc) {
        partials.push_back({key, start, end, acc.save(spec_.aggregates)});
      });
  return partials;
}

bool WindowOperator::idle(const std::string& partition) const {
  auto it = partitions_.find(partition);
  return it != partitions_.end() && it->second.idle;
}

std::optional<std::int64_t> WindowOperator::earliest_open_start() const {
  std::optional<std::int64_t> earliest;
  for (const auto& [id, acc] : windows_)
    earliest = std::min(earliest.value_or(INT64_MAX), id.start);
  return earliest;
}

std::vector<WindowResult> WindowOperator::open_results() const {
  std::vector<WindowResult> results;
  results.reserve(windows_.size());
  for (const auto& [id, acc] : windows_)
    results.push_back({id.key, id.start, id.end, acc.events(), acc.result(spec_.aggregates)});
  return results;
}

json::value WindowOperator::save() const {
  json::object partitions;
  for (const auto& [name, clock] : partitions_) {
    if (clock.max_ts != INT64_MIN) partitions[name] = clock.max_ts;
  }
  json::array windows;
  for (const auto& [id, acc] : windows_) {
    windows.push_back(
        json::array{json::value(id.key), id.start, id.end, acc.save(spec_.aggregates)});
  }
  return json::object{{"closed_until", closed_until_},
                      {"partitions", std::move(partitions)},
                      {"windows", std::move(windows)}};
}

Result<WindowOperator> WindowOperator::load(WindowSpec spec, const json::value& saved) {
  WindowOperator op(std::move(spec));
  auto corrupt = [](const std::string& what) {
    return make_error(Errc::kCorrupt, "window checkpoint: " + what);
  };
  try {
    const auto& o = saved.as_object();
    op.closed_until_ = o.at("closed_until").as_int64();
    for (const auto& [name, max_ts] : o.at("partitions").as_object())
      op.partitions_[std::string(name)].max_ts = max_ts.as_int64();
    for (const auto& w : o.at("windows").as_array()) {
      const auto& a = w.as_array();
      const std::string key(a.at(0).as_string());
      const std::int64_t start = a.at(1).as_int64();
      const std::int64_t end = a.at(2).as_int64();
      auto acc = Accumulator::load(op.spec_.aggregates, a.at(3));
      if (!acc) return corrupt(acc.error().message);
      if (op.spec_.kind == WindowSpec::Kind::kSession) {
        op.windows_.emplace(WindowId{end, key, start}, std::move(acc.value()));
        op.sessions_[key][start] = end;
      } else {
        op.window(key, start, end) = std::move(acc.value());
      }
    }
  } catch (const std::exception& e) {
    return corrupt(e.what());
  }
  return op;
}

}  // namespace sluice::windows
