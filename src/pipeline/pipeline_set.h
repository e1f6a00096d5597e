#pragma once
// The pipelines of a configuration: built from it (sinks opened, steps built), started and
// stopped together, reloaded on SIGHUP, and reported (GET /v1/pipelines).

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "log/log.h"
#include "pipeline/pipeline.h"

namespace sluice::pipeline {

// Builds a pipeline from the configuration: opens its sinks and builds its steps.
Result<std::unique_ptr<Pipeline>> build_pipeline(const PipelineConfig& pipeline,
                                                 const Config& config, log::Log& log);

// {"pipelines":[{"name":…,"state":…,"from":[…],"to":[…],"lag":…,…}]}, as GET /v1/pipelines
// answers.
std::string statuses_json(const std::vector<PipelineStatus>& statuses);

// Every configured pipeline, started and stopped together. reload() applies a new
// configuration's pipelines and sinks: it starts the added ones, stops the removed ones and
// restarts the changed ones (from their committed positions); the others run on untouched.
class PipelineSet {
 public:
  // Builds them all; the first failure is returned (naming the pipeline).
  static Result<std::unique_ptr<PipelineSet>> build(const Config& config, log::Log& log);
  void start();
  void stop();
  void notify();
  std::vector<PipelineStatus> statuses() const;

  struct ReloadSummary {
    std::vector<std::string> added, removed, changed, unchanged;
  };
  // `config` must keep the running process's streams; nothing changes when it is refused.
  Result<ReloadSummary> reload(const Config& config);

 private:
  explicit PipelineSet(log::Log& log) : log_(log) {}
  log::Log& log_;
  mutable std::mutex mutex_;  // guards pipelines_ against statuses() and notify() meanwhile
  std::map<std::string, std::unique_ptr<Pipeline>> pipelines_;
  bool started_ = false;
};

}  // namespace sluice::pipeline
