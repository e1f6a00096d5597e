#include "sources/http/collector_metrics.h"

#include <fmt/format.h>

#include <iterator>

namespace sluice::collector {

CollectorMetrics::CollectorMetrics(const std::vector<std::string>& streams) {
  for (const auto& name : streams)
    streams_.emplace(name, std::make_unique<StreamCounters>());
}

StreamCounters* CollectorMetrics::stream(const std::string& name) {
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : it->second.get();
}

const StreamCounters* CollectorMetrics::stream(const std::string& name) const {
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : it->second.get();
}

void CollectorMetrics::sample(std::chrono::steady_clock::time_point now) {
  Sample sample{now, {}};
  sample.accepted.reserve(streams_.size());
  for (const auto& [name, counters] : streams_)
    sample.accepted.push_back(counters->accepted.load(std::memory_order_relaxed));
  std::lock_guard lock(samples_mutex_);
  samples_.push_back(std::move(sample));
  while (samples_.size() > 2 && now - samples_[1].at >= std::chrono::seconds(60))
    samples_.pop_front();
}

double CollectorMetrics::accepted_rate(const std::string& stream) const {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return 0;
  const auto index = static_cast<std::size_t>(std::distance(streams_.begin(), it));
  std::lock_guard lock(samples_mutex_);
  if (samples_.size() < 2) return 0;
  const auto& first = samples_.front();
  const auto& last = samples_.back();
  const double seconds = std::chrono::duration<double>(last.at - first.at).count();
  if (seconds <= 0) return 0;
  return static_cast<double>(last.accepted[index] - first.accepted[index]) / seconds;
}

void CollectorMetrics::append_json(std::string& out, const std::string& stream) const {
  out += fmt::format("\"accepted_per_second\":{:.1f},\"since_start\":", accepted_rate(stream));
  const auto* c = this->stream(stream);
  if (!c) {
    out += "null";
    return;
  }
  auto load = [](const std::atomic<std::uint64_t>& n) { return n.load(std::memory_order_relaxed); };
  out += fmt::format(R"({{"received":{},"accepted":{},"rejected":{{)", load(c->received),
                     load(c->accepted));
  for (std::size_t i = 0; i < kRejectReasons.size(); ++i)
    out += fmt::format(R"({}"{}":{})", i ? "," : "", kRejectReasons[i], load(c->rejected[i]));
  out += fmt::format(R"(}},"bytes":{},"requests":{{)", load(c->bytes));
  bool first = true;
  for (std::size_t s = 0; s < http::kStatuses.size(); ++s) {
    const auto n = load(c->requests[s]);
    if (n == 0) continue;
    out += fmt::format(R"({}"{}":{})", first ? "" : ",", http::status_label(s), n);
    first = false;
  }
  out += "}}";
}

void CollectorMetrics::collect(metrics::Families& f) const {
  f.histogram("sluice_log_append_duration_seconds",
              "From handing a request's events to the log until they are durable (the wait "
              "before a 2xx).",
              {}, append_latency_.snapshot());
  for (const auto& [name, counters] : streams_) {
    const metrics::Labels stream = {{"stream", name}};
    auto load = [](const std::atomic<std::uint64_t>& n) {
      return metrics::as_double(n.load(std::memory_order_relaxed));
    };
    f.counter("sluice_ingest_bytes_total", "Request body bytes received, as sent (compressed).",
              stream, load(counters->bytes));
    f.counter("sluice_ingest_events_received_total", "Events found in request bodies.", stream,
              load(counters->received));
    f.counter("sluice_ingest_events_accepted_total", "Events made durable and acknowledged.",
              stream, load(counters->accepted));
    for (std::size_t i = 0; i < kRejectReasons.size(); ++i) {
      f.counter("sluice_ingest_events_rejected_total",
                "Events refused one by one (the rest of their request went on): malformed (not "
                "JSON, not an object, too deep) or invalid (schema, field rules, sanitisation).",
                {{"stream", name}, {"reason", kRejectReasons[i]}}, load(counters->rejected[i]));
    }
    for (std::size_t s = 0; s < http::kStatuses.size(); ++s) {
      const auto n = counters->requests[s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      f.counter("sluice_ingest_requests_total", "Requests to a stream by answer status.",
                {{"stream", name}, {"status", http::status_label(s)}}, metrics::as_double(n));
    }
  }
}

}  // namespace sluice::collector
