#include "transforms/dedup/dedup.h"

#include <boost/json.hpp>

#include "pipeline/field_path.h"

namespace sluice::transforms {

const config::Table& Dedup::settings_table() {
  static const config::Table table{
      "dedup",
      "Drops an event whose key was already seen within `window` (arrival time).",
      {
          config::string_setting("field", &Settings::field, "",
                                 "The field whose value is the key (a dotted path); empty: the "
                                 "event id. Events without the field are never dropped."),
          config::duration_setting("window", &Settings::window, "10m", 1, 30LL * 24 * 3600 * 1000,
                                   "How long a key is remembered."),
          config::int_setting("max_keys", &Settings::max_keys, 1'000'000, 1, 100'000'000,
                              "Most keys remembered at once; beyond it the oldest are "
                              "forgotten first."),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Transform>> Dedup::build(const pipeline::TransformContext&,
                                                          const Settings& settings) {
  return std::unique_ptr<pipeline::Transform>(std::make_unique<Dedup>(settings));
}

void Dedup::forget_before(std::int64_t oldest_ms) {
  while (!arrivals_.empty() && (arrivals_.front().first < oldest_ms ||
                                arrivals_.size() > static_cast<std::size_t>(settings_.max_keys))) {
    auto& [at, key] = arrivals_.front();
    // Only the latest arrival of a key removes it: older entries of a key seen again stay
    // behind in the queue and are skipped here.
    if (auto it = seen_.find(key); it != seen_.end() && it->second == at) seen_.erase(it);
    arrivals_.pop_front();
  }
}

bool Dedup::apply(pipeline::PipelineEvent& event) {
  std::string key;
  if (settings_.field.empty()) {
    key = event.envelope().id;
  } else {
    const auto* value = pipeline::find_field(event.json(), settings_.field);
    if (!value || value->is_null()) return true;
    key = value->is_string() ? std::string(value->get_string()) : boost::json::serialize(*value);
  }
  const std::int64_t now = event.envelope().received_at_ms;
  forget_before(now - settings_.window.count());
  auto it = seen_.find(key);
  if (it != seen_.end() && now - it->second <= settings_.window.count()) return false;
  seen_[key] = now;
  arrivals_.emplace_back(now, std::move(key));
  return true;
}

}  // namespace sluice::transforms
