#include "config/places.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

namespace sluice::config {
namespace {

// (A handle copied by construction refers to the same node; assigning one to another would
// overwrite the node it refers to, so each step is a new handle.)
YAML::Node find(const YAML::Node& node, const std::string_view* key, const std::string_view* end) {
  if (key == end) return node;
  // A key the file does not have (a default entry's) gives a node that throws when asked
  // its type.
  if (!node.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& parent = node;
  if (parent.IsSequence()) {
    std::size_t index = 0;
    const auto [last, ec] = std::from_chars(key->data(), key->data() + key->size(), index);
    if (ec != std::errc() || last != key->data() + key->size() || index >= parent.size()) {
      return YAML::Node(YAML::NodeType::Undefined);
    }
    return find(parent[index], key + 1, end);
  }
  if (!parent.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return find(parent[std::string(*key)], key + 1, end);
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbouring letters each cost one.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

Place place_of(const YAML::Node& root, const std::vector<std::string_view>& keys,
               std::string_view item) {
  const YAML::Node node = find(root, keys.data(), keys.data() + keys.size());
  if (!node.IsDefined()) return {};
  YAML::Mark mark = node.Mark();
  if (!item.empty() && node.IsSequence()) {
    for (const auto& element : node) {
      if (element.IsScalar() && element.Scalar() == item) {
        mark = element.Mark();
        break;
      }
    }
  }
  if (mark.line < 0) return {};
  return {.line = mark.line + 1, .column = mark.column + 1};
}

std::string did_you_mean(std::string_view name, const std::vector<std::string>& known) {
  // Names are short: past a third of the name's length, a match is more likely chance.
  const std::size_t most = std::max<std::size_t>(1, std::min<std::size_t>(3, name.size() / 3));
  const std::string* best = nullptr;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const auto& candidate : known) {
    if (candidate == name || candidate.size() > name.size() + most + 1) continue;
    const std::size_t distance = edit_distance(name, candidate);
    if (distance <= most && distance < best_distance) {
      best = &candidate;
      best_distance = distance;
    }
  }
  // Else a name that begins the way this one does, or with it (p95 for p95_temp).
  for (const auto& candidate : known) {
    if (best) break;
    const bool prefix = name.size() >= 3 && candidate.size() >= 3 &&
                        (candidate.starts_with(name) || name.starts_with(candidate));
    if (prefix && candidate != name) best = &candidate;
  }
  return best ? fmt::format("; did you mean \"{}\"?", *best) : std::string();
}

}  // namespace sluice::config
