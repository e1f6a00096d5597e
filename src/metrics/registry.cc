#include "metrics/registry.h"

namespace sluice::metrics {

void Registry::add(Collect collect) {
  collects_.push_back(std::move(collect));
}

std::string Registry::render() const {
  Families families;
  for (const auto& collect : collects_)
    collect(families);
  return families.text();
}

}  // namespace sluice::metrics
