#include "pipeline/pipeline_set.h"

#include <fmt/format.h>

#include <algorithm>

#include "components/registry.h"
#include "core/json_text.h"

namespace sluice::pipeline {

Result<std::unique_ptr<Pipeline>> build_pipeline(const PipelineConfig& pipeline,
                                                 const Config& config, log::Log& log) {
  std::vector<Pipeline::SinkSlot> sinks;
  for (const auto& name : pipeline.to) {
    const ComponentConfig& sink = config.sinks.at(name);
    const auto* kind = components::find_sink_kind(sink.kind);
    if (!kind) return make_error(Errc::kInvalidInput, "unknown sink kind " + sink.kind);
    SinkContext context{
        .name = name, .data_dir = config.storage.data_dir, .log = &log, .upsert = pipeline.upsert};
    auto opened = kind->open(context, sink.settings.get());
    if (!opened) {
      return make_error(opened.error().code,
                        fmt::format("sinks.{}: {}", name, opened.error().message));
    }
    sinks.push_back({name, std::move(opened.value())});
  }
  TransformContext context{.pipeline = pipeline.name, .sinks = pipeline.to};
  std::vector<std::unique_ptr<Transform>> steps;
  for (std::size_t i = 0; i < pipeline.steps.size(); ++i) {
    const ComponentConfig& step = pipeline.steps[i];
    const auto* kind = components::find_transform_kind(step.kind);
    if (!kind) return make_error(Errc::kInvalidInput, "unknown step kind " + step.kind);
    auto built = kind->build(context, step.settings.get());
    if (!built) {
      return make_error(built.error().code,
                        fmt::format("pipelines.{}.steps[{}].{}: {}", pipeline.name, i, step.kind,
                                    built.error().message));
    }
    steps.push_back(std::move(built.value()));
  }
  std::optional<StreamConfig> dead_letter;
  if (!pipeline.dead_letter.empty()) dead_letter = config.streams.at(pipeline.dead_letter);
  return std::make_unique<Pipeline>(pipeline, log, std::move(sinks), std::move(steps), dead_letter);
}

std::string statuses_json(const std::vector<PipelineStatus>& statuses) {
  auto list = [](std::string& out, const std::vector<std::string>& names) {
    out += '[';
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i > 0) out += ',';
      append_json_string(out, names[i]);
    }
    out += ']';
  };
  std::string out = "{\"pipelines\":[";
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    const auto& s = statuses[i];
    if (i > 0) out += ',';
    out += "{\"name\":";
    append_json_string(out, s.name);
    out += ",\"state\":";
    append_json_string(out, s.state);
    out += ",\"from\":";
    list(out, s.from);
    out += ",\"to\":";
    list(out, s.to);
    out += fmt::format(
        ",\"lag\":{},\"read\":{},\"dropped\":{},\"delivered\":{},\"dead_lettered\":{},"
        "\"retries\":{},\"skipped\":{},\"last_error\":",
        s.lag, s.read, s.dropped, s.delivered, s.dead_lettered, s.retries, s.skipped);
    if (s.last_error.empty()) {
      out += "null";
    } else {
      append_json_string(out, s.last_error);
    }
    out += ',';
    consume::append_group_json(out, s.group);
    out += '}';
  }
  out += "]}";
  return out;
}

Result<std::unique_ptr<PipelineSet>> PipelineSet::build(const Config& config, log::Log& log) {
  auto set = std::unique_ptr<PipelineSet>(new PipelineSet(log));
  for (const auto& [name, pipeline] : config.pipelines) {
    auto built = build_pipeline(pipeline, config, log);
    if (!built) return built.error();
    set->pipelines_.emplace(name, std::move(built.value()));
  }
  return set;
}

void PipelineSet::start() {
  std::lock_guard lock(mutex_);
  for (auto& [name, pipeline] : pipelines_)
    pipeline->start();
  started_ = true;
}

void PipelineSet::stop() {
  std::lock_guard lock(mutex_);
  for (auto& [name, pipeline] : pipelines_)
    pipeline->stop();
  started_ = false;
}

void PipelineSet::notify() {
  std::lock_guard lock(mutex_);
  for (auto& [name, pipeline] : pipelines_)
    pipeline->notify();
}

std::vector<PipelineStatus> PipelineSet::statuses() const {
  std::lock_guard lock(mutex_);
  std::vector<PipelineStatus> out;
  out.reserve(pipelines_.size());
  for (const auto& [name, pipeline] : pipelines_)
    out.push_back(pipeline->status());
  return out;
}

Result<PipelineSet::ReloadSummary> PipelineSet::reload(const Config& config) {
  const auto streams = log_.streams();
  auto known = [&](const std::string& stream) {
    return std::find(streams.begin(), streams.end(), stream) != streams.end();
  };
  for (const auto& [name, pipeline] : config.pipelines) {
    for (const auto& stream : pipeline.from) {
      if (!known(stream)) {
        return make_error(Errc::kInvalidInput,
                          fmt::format("pipelines.{}: stream \"{}\" is not one this process runs; "
                                      "new streams need a restart",
                                      name, stream));
      }
    }
  }
  // Build everything new first: a sink that cannot open refuses the whole reload.
  ReloadSummary summary;
  std::map<std::string, std::unique_ptr<Pipeline>> fresh;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, pipeline] : config.pipelines) {
      auto running = pipelines_.find(name);
      if (running != pipelines_.end() && running->second->config().source == pipeline.source) {
        summary.unchanged.push_back(name);
        continue;
      }
      auto built = build_pipeline(pipeline, config, log_);
      if (!built) return built.error();
      fresh.emplace(name, std::move(built.value()));
      (running == pipelines_.end() ? summary.added : summary.changed).push_back(name);
    }
    for (const auto& [name, pipeline] : pipelines_) {
      if (!config.pipelines.contains(name)) summary.removed.push_back(name);
    }
  }
  // Stop the removed and changed ones (each after its batch in progress), outside the lock so
  // that status requests are answered meanwhile.
  std::vector<std::unique_ptr<Pipeline>> retired;
  {
    std::lock_guard lock(mutex_);
    for (const auto& name : summary.removed) {
      retired.push_back(std::move(pipelines_.at(name)));
      pipelines_.erase(name);
    }
    for (const auto& name : summary.changed) {
      retired.push_back(std::move(pipelines_.at(name)));
      pipelines_.erase(name);
    }
  }
  retired.clear();  // stops them
  for (const auto& name : summary.removed)
    log_.release("pipeline." + name);  // no longer holds back retention
  std::lock_guard lock(mutex_);
  for (auto& [name, pipeline] : fresh) {
    if (started_) pipeline->start();
    pipelines_.emplace(name, std::move(pipeline));
  }
  return summary;
}

}  // namespace sluice::pipeline
