#include "health/readiness.h"

#include "core/json_text.h"
#include "pipeline/pipeline.h"
#include "processor/processor.h"
#include "query/store_reader.h"
#include "windows/window_job.h"

namespace sluice::health {
namespace {

// One named check: {"ok":bool[,"state":..][,"error":..]}.
class Checks {
 public:
  void add(std::string& out, std::string_view name, bool ok, std::string_view error,
           std::string_view state = {}) {
    if (!first_) out += ',';
    first_ = false;
    append_json_string(out, name);
    out += ok ? ":{\"ok\":true" : ":{\"ok\":false";
    if (!state.empty()) {
      out += ",\"state\":";
      append_json_string(out, state);
    }
    if (!error.empty()) {
      out += ",\"error\":";
      append_json_string(out, error);
    }
    out += '}';
    ready_ = ready_ && ok;
  }
  bool ready() const { return ready_; }

 private:
  bool first_ = true;
  bool ready_ = true;
};

// A read of the store through the API's own connections: the file is there and readable.
std::string store_read_error(query::StoreReader& reader) {
  auto sql = reader.sql();
  sql += "SELECT 1 FROM events LIMIT 1";
  auto read = reader.query(sql, [](const query::Row&) { return false; });
  return read ? std::string() : "the store cannot be read: " + read.error().message;
}

}  // namespace

Readiness check_readiness(const Parts& parts) {
  Checks checks;
  bool ready = true;
  std::string out = "{\"checks\":{";
  const auto stats = parts.log.stats();
  checks.add(out, "log", stats.failing.empty(), stats.failing, parts.log.backend());
  if (parts.store || parts.reader) {
    std::string error = parts.store ? parts.store->failing() : "";
    if (error.empty() && parts.reader) error = store_read_error(*parts.reader);
    checks.add(out, "store", error.empty(), error);
  }
  if (parts.pipelines) {
    out += ",\"pipelines\":{";
    Checks pipelines;
    for (const auto& s : parts.pipelines->statuses()) {
      const bool ok = s.state == "running" || s.state == "starting";
      pipelines.add(out, s.name, ok, ok ? "" : s.last_error, s.state);
    }
    out += '}';
    ready = ready && pipelines.ready();
  }
  if (parts.windows) {
    out += ",\"windows\":{";
    Checks windows;
    for (const auto& s : parts.windows->statuses()) {
      const bool ok = s.state != "retrying";
      windows.add(out, s.name, ok, ok ? "" : s.last_error, s.state);
    }
    for (const auto& r : parts.windows->rule_statuses()) {
      const bool ok = r.state != "retrying";
      windows.add(out, "alerts." + r.name, ok, ok ? "" : r.last_error, r.state);
    }
    out += '}';
    ready = ready && windows.ready();
  }
  ready = ready && checks.ready();
  out += "},\"status\":";
  out += ready ? "\"ready\"}" : "\"not ready\"}";
  return {ready, std::move(out)};
}

}  // namespace sluice::health
