#!/usr/bin/env bash
# Which folder may include which (src/README.md): a lower folder never includes a higher one.
# Each rule is "folder: forbidden include prefixes"; any #include that breaks one fails.
# usage: check_layout.sh (from the source root)
set -uo pipefail
rules=(
  "src/core/: config/ log/ http/ sources/ processor/ store/ query/ pipeline/ sinks/ windows/ alerts/ metrics/ health/ app/"
  "src/metrics/: config/ log/ http/ sources/ processor/ store/ query/ pipeline/ sinks/ windows/ alerts/ health/ app/"
  "src/health/: config/ log/ http/ sources/ processor/ store/ query/ pipeline/ sinks/ windows/ alerts/ metrics/ app/"
  "src/http/: config/config.h log/ sources/ processor/ store/ query/ pipeline/ sinks/ windows/ alerts/ app/"
  "src/store/: config/config.h sinks/ sources/ query/ pipeline/ windows/ alerts/ metrics/ health/ app/"
  "src/log/: config/config.h http/ sources/ processor/ store/ query/ pipeline/ sinks/ windows/ alerts/ app/"
  "src/sinks/: sources/ query/ processor/ windows/ alerts/ metrics/ health/ app/"
  "src/sources/: processor/ store/ query/ pipeline/ sinks/ windows/ alerts/ app/"
  "src/consume/: config/config.h http/ sources/ processor/ store/ query/ pipeline/ sinks/ windows/ alerts/ metrics/ health/ app/"
  "src/alerts/: windows/ http/ sources/ processor/ store/ query/ sinks/ app/"
  "src/query/: sinks/ sources/ app/"
  "src/windows/: sinks/ sources/ app/"
  "src/web/: config/config.h log/ sources/ processor/ store/ query/ pipeline/ sinks/ windows/ alerts/ app/"
)
failed=0
for rule in "${rules[@]}"; do
  folder=${rule%%:*}
  for prefix in ${rule#*:}; do
    found=$(grep -rn --include='*.h' --include='*.cc' "^#include \"$prefix" "$folder" || true)
    if [ -n "$found" ]; then
      echo "$folder must not include $prefix:"
      echo "$found"
      failed=1
    fi
  done
done
# Settings sit beside the code they configure and config/ composes them: config/ takes from
# other folders only their *_settings.h (and the leaves core/, expr/, validation/), and a
# settings header includes only config/table.h, core/ and other settings.
found=$(grep -rn --include='*.h' --include='*.cc' '^#include "' src/config |
  grep -v -E '#include "(config/|core/|expr/|validation/|[a-z_/]+_settings\.h")' || true)
if [ -n "$found" ]; then
  echo "src/config/ may include only other folders' *_settings.h:"
  echo "$found"
  failed=1
fi
found=$(grep -n '^#include "' $(find src -name '*_settings.h') |
  grep -v -E '#include "(config/table\.h|core/|[a-z_/]+_settings\.h)"' || true)
if [ -n "$found" ]; then
  echo "a *_settings.h includes only config/table.h, core/ and other settings:"
  echo "$found"
  failed=1
fi
if [ $failed -ne 0 ]; then
  echo "layout: includes above break src/README.md's rules"
  exit 1
fi
echo "layout: $((${#rules[@]} + 2)) rules hold"
