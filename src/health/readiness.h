#pragma once
// GET /readyz: whether this process can do its work now. Each part it runs registers its own
// checks (the log takes appends, the store is written and readable, every pipeline reaches its
// sinks, every window runs); the answer names what is not ready. This folder knows none of
// the parts.

#include <functional>
#include <string>
#include <vector>

namespace sluice::health {

// One named check: {"ok":bool[,"state":..][,"error":..]}.
struct Check {
  std::string name;
  bool ok = true;
  std::string error;  // why not, when not ok
  std::string state;  // optional: "embedded", "running", "retrying"...
};

struct Readiness {
  bool ready = true;
  // {"checks":{"log":{"ok":true,...},"store":{...},"pipelines":{"<name>":{"ok":false,
  //  "state":"retrying","error":"..."}},"windows":{...}},"status":"ready"|"not ready"}
  std::string json;
};

class Checks {
 public:
  // Before serving: the checks are read, not guarded, while probes run.
  void add(std::function<Check()> check);
  // A group of checks under one name ("pipelines": one per pipeline).
  void add_group(std::string name, std::function<std::vector<Check>()> checks);

  // Runs every check, in the order they were added. Thread-safe when each check is.
  Readiness run() const;

 private:
  struct Entry {
    std::string group;  // empty: a single check
    std::function<Check()> check;
    std::function<std::vector<Check>()> checks;
  };
  std::vector<Entry> entries_;
};

}  // namespace sluice::health
