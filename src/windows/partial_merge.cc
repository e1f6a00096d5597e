#include "windows/partial_merge.h"

#include <algorithm>
#include <map>

namespace sluice::windows {

std::optional<MergeBounds> merge_bounds(const std::vector<PartitionProgress>& partitions) {
  std::optional<std::int64_t> lowest_active;
  std::int64_t highest = INT64_MIN;
  MergeBounds bounds;
  for (const auto& p : partitions) {
    if (p.unread) return std::nullopt;
    if (p.open_from)
      bounds.open_from = std::min(bounds.open_from.value_or(INT64_MAX), *p.open_from);
    if (!p.closed_until) continue;
    highest = std::max(highest, *p.closed_until);
    if (!p.idle) lowest_active = std::min(lowest_active.value_or(INT64_MAX), *p.closed_until);
  }
  bounds.follow = lowest_active.value_or(highest);
  // Idle partitions that have not followed yet may still hold a share of a window.
  bounds.merge_until = bounds.follow;
  for (const auto& p : partitions) {
    if (p.closed_until) bounds.merge_until = std::min(bounds.merge_until, *p.closed_until);
  }
  return bounds;
}

namespace {

struct Group {
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::vector<const PartitionPartial*> members;
};

Result<WindowResult> merged(const WindowSpec& spec, const std::string& key, const Group& group) {
  std::optional<Accumulator> total;
  for (const auto* member : group.members) {
    auto acc = Accumulator::load(spec.aggregates, member->window.state);
    if (!acc) return acc.error();
    if (total) {
      total->merge(spec.aggregates, acc.value());
    } else {
      total.emplace(std::move(acc.value()));
    }
  }
  return WindowResult{key, group.start, group.end, total->events(), total->result(spec.aggregates)};
}

}  // namespace

Result<Merged> merge_partials(const WindowSpec& spec, const std::vector<PartitionPartial>& partials,
                              const MergeBounds& bounds) {
  // By key, then start: a key's windows (or its sessions, which may overlap) side by side.
  std::map<std::string, std::vector<const PartitionPartial*>> by_key;
  for (const auto& p : partials)
    by_key[p.window.key].push_back(&p);
  Merged out;
  for (auto& [key, list] : by_key) {
    std::sort(list.begin(), list.end(), [](const auto* a, const auto* b) {
      return std::tie(a->window.start_ms, a->window.end_ms) <
             std::tie(b->window.start_ms, b->window.end_ms);
    });
    std::vector<Group> groups;
    for (const auto* p : list) {
      const bool joins =
          !groups.empty() &&
          (spec.kind == WindowSpec::Kind::kSession
               ? p->window.start_ms < groups.back().end  // overlapping sessions are one
               : p->window.start_ms == groups.back().start);
      if (joins) {
        groups.back().end = std::max(groups.back().end, p->window.end_ms);
        groups.back().members.push_back(p);
      } else {
        groups.push_back({p->window.start_ms, p->window.end_ms, {p}});
      }
    }
    for (const auto& group : groups) {
      if (group.end > bounds.merge_until) continue;
      // A session still open somewhere may yet join it.
      if (spec.kind == WindowSpec::Kind::kSession && bounds.open_from &&
          *bounds.open_from < group.end) {
        continue;
      }
      auto result = merged(spec, key, group);
      if (!result) return result.error();
      out.results.push_back(std::move(result.value()));
      for (const auto* member : group.members)
        out.taken.emplace_back(member->part, key, member->window.start_ms);
    }
  }
  std::stable_sort(
      out.results.begin(), out.results.end(),
      [](const WindowResult& a, const WindowResult& b) { return a.end_ms < b.end_ms; });
  return out;
}

}  // namespace sluice::windows
