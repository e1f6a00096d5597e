#pragma once
// The tables of `sinks` entries and pipeline `steps`: one key naming a kind the registry holds,
// with that kind's settings.

#include <optional>
#include <string>
#include <vector>

#include "config/table.h"
#include "pipeline/pipeline_settings.h"

namespace sluice::components {

// An entry of `sinks`: one key naming a registered sink kind, with its settings.
const config::Table& sink_table();
// An entry of a pipeline's `steps`: one key naming a registered transform kind.
const config::Table& step_table();
// The registered kinds' names, "sqlite, postgres, …" (sinks) or the transforms'.
std::string kind_names(bool sinks);
// What a step's table cannot check (route's sinks, for one), found by building it for pipeline
// `pipeline` with sinks `sinks`; the error, if any.
std::optional<std::string> check_step(const std::string& pipeline,
                                      const std::vector<std::string>& sinks,
                                      const ComponentConfig& step);

// What the files a step reads hold, as text that changes when one of them changes ("" when
// the step reads none): part of what tells a reload that a pipeline changed.
std::string step_files_fingerprint(const ComponentConfig& step);

}  // namespace sluice::components
