#pragma once
// The component registry: every kind of sink and pipeline step, each with its settings table
// (from which validation and docs/configuration.md come) and the function that builds it.
// A new kind is one folder with its class and one line in registry.cc.
//
// A component class provides:
//   struct Settings { ... };                              its settings, filled from the table
//   static const config::Table& settings_table();
//   static Result<std::unique_ptr<pipeline::Sink>> open(const pipeline::SinkContext&,
//                                                       const Settings&);          (sinks)
//   static Result<std::unique_ptr<pipeline::Transform>> build(
//       const pipeline::TransformContext&, const Settings&);                       (steps)

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/table.h"
#include "core/result.h"
#include "pipeline/sink.h"
#include "pipeline/transform.h"

namespace sluice::components {

struct SinkKind {
  std::string name;
  const config::Table* table;
  std::function<std::shared_ptr<void>()> make_settings;
  std::function<Result<std::unique_ptr<pipeline::Sink>>(const pipeline::SinkContext&,
                                                        const void* settings)>
      open;
};

struct TransformKind {
  std::string name;
  const config::Table* table;
  std::function<std::shared_ptr<void>()> make_settings;
  std::function<Result<std::unique_ptr<pipeline::Transform>>(const pipeline::TransformContext&,
                                                             const void* settings)>
      build;
  // The files a step reads when built (`static std::vector<std::string> files(const
  // Settings&)`, optional): a reload restarts its pipeline when one of them changed.
  std::function<std::vector<std::string>(const void* settings)> files;
};

const std::vector<SinkKind>& sink_kinds();
const std::vector<TransformKind>& transform_kinds();
const SinkKind* find_sink_kind(std::string_view name);
const TransformKind* find_transform_kind(std::string_view name);

template <class T>
SinkKind sink_kind(std::string name) {
  using Settings = typename T::Settings;
  return {std::move(name), &T::settings_table(), [] { return std::make_shared<Settings>(); },
          [](const pipeline::SinkContext& context, const void* settings) {
            return T::open(context, *static_cast<const Settings*>(settings));
          }};
}

template <class T>
TransformKind transform_kind(std::string name) {
  using Settings = typename T::Settings;
  TransformKind kind{std::move(name),
                     &T::settings_table(),
                     [] { return std::make_shared<Settings>(); },
                     [](const pipeline::TransformContext& context, const void* settings) {
                       return T::build(context, *static_cast<const Settings*>(settings));
                     },
                     {}};
  if constexpr (requires(const Settings& settings) { T::files(settings); }) {
    kind.files = [](const void* settings) {
      return T::files(*static_cast<const Settings*>(settings));
    };
  }
  return kind;
}

}  // namespace sluice::components
