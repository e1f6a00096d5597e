#include "components/component_settings.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <fstream>
#include <sstream>

#include "components/registry.h"

namespace sluice::components {

namespace {

// A table whose entry is exactly one of `kinds` (the component registry's sink or transform
// kinds), chosen by its key, with that kind's settings.
template <typename Kinds>
config::Table component_table(std::string name, std::string doc, const Kinds& kinds) {
  config::Table t{std::move(name), std::move(doc), {}};
  for (const auto& kind : kinds) {
    t.settings.push_back(config::variant_setting<ComponentConfig>(
        kind.name, *kind.table, [&kind](ComponentConfig& c, const std::string& key) {
          c.kind = key;
          c.settings = kind.make_settings();
          ++c.kinds_given;
          return c.settings.get();
        }));
  }
  return t;
}

}  // namespace

const config::Table& sink_table() {
  static const config::Table table = component_table(
      "sinks.<name>",
      "A sink: one key naming its kind (`sqlite`, `postgres`, `file`, `webhook`, `kafka`, "
      "`stdout`, `log`) with that kind's settings (docs/pipelines.md).",
      components::sink_kinds());
  return table;
}

// One entry of pipelines.<name>.steps.
const config::Table& step_table() {
  static const config::Table table =
      component_table("step", "A step: one key naming its kind with that kind's settings.",
                      components::transform_kinds());
  return table;
}

std::string kind_names(bool sinks) {
  std::vector<std::string> names;
  if (sinks) {
    for (const auto& kind : components::sink_kinds())
      names.push_back(kind.name);
  } else {
    for (const auto& kind : components::transform_kinds())
      names.push_back(kind.name);
  }
  std::string out;
  for (const auto& name : names)
    out += (out.empty() ? "" : ", ") + name;
  return out;
}

std::optional<std::string> check_step(const std::string& pipeline,
                                      const std::vector<std::string>& sinks,
                                      const ComponentConfig& step) {
  const pipeline::TransformContext context{.pipeline = pipeline, .sinks = sinks};
  auto built = find_transform_kind(step.kind)->build(context, step.settings.get());
  if (!built) return built.error().message;
  return std::nullopt;
}

std::string step_files_fingerprint(const ComponentConfig& step) {
  const auto* kind = find_transform_kind(step.kind);
  if (!kind || !kind->files || !step.settings) return "";
  std::string out;
  for (const auto& path : kind->files(step.settings.get())) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    if (in) content << in.rdbuf();
    out += fmt::format("\nfile {} {:016x}", path,
                       in ? XXH3_64bits(content.str().data(), content.str().size()) : 0);
  }
  return out;
}

}  // namespace sluice::components
