#!/usr/bin/env bash
# src/README.md "Adding a sink, a transform or a route" is how every existing one is made:
# each sinks/<kind>/ and transforms/<kind>/ folder has a class with the static entry point the
# registry calls, is registered by one line in components/registry.cc under its folder's name,
# and is built from src/CMakeLists.txt; each route is added by its owner, outside http/ but for
# the front door's probes, and route files are built in sluice_http.
# usage: check_walkthrough.sh (from the source root)
set -uo pipefail
failed=0
fail() {
  echo "walkthrough: $*"
  failed=1
}
registry=src/components/registry.cc
for kind_dir in src/sinks/*/ src/transforms/*/; do
  kind=$(basename "$kind_dir")
  folder=$(basename "$(dirname "$kind_dir")")  # sinks or transforms
  if [ "$folder" = sinks ]; then entry="static Result<std::unique_ptr<pipeline::Sink>> open("
  else entry="static Result<std::unique_ptr<pipeline::Transform>> build("; fi
  grep -qF "$entry" "$kind_dir"*.h || fail "$kind_dir has no class with $entry"
  registered=$(grep -cE "(sink|transform)_kind<[a-z]+::[A-Za-z]+>\(\"$kind\"\)" "$registry")
  [ "$registered" = 1 ] || fail "$folder/$kind is registered $registered times in $registry"
  grep -qE "^#include \"$folder/$kind/" "$registry" || fail "$registry does not include $folder/$kind"
  for source in "$kind_dir"*.cc; do
    grep -qE "^\s+${source#src/}$" src/CMakeLists.txt || fail "${source#src/} is not in src/CMakeLists.txt"
  done
done
# Routes: added with router.add / routes.add by their owners; the front door adds only probes.
owners=$(grep -rlE '(router|routes)\.add\(' src --include='*.cc' | sort)
for file in $owners; do
  case "$file" in
    src/http/probes.cc | src/http/router.cc) ;;
    src/http/*) fail "$file adds routes: the front door knows none but its probes" ;;
  esac
  case "$file" in
    src/app/*) ;;  # assembly: routes of parts a role does not run
    *) grep -qE "^\s+${file#src/}$" <(sed -n '/add_library(sluice_http/,/)/p' src/CMakeLists.txt) ||
      fail "$file adds routes but is not built in sluice_http" ;;
  esac
done
for named in src/http/router.h src/http/work_pool.h src/pipeline/sink.h src/pipeline/transform.h \
  src/app/served_parts.cc src/query/read_routes.cc src/pipeline/status_route.cc; do
  [ -f "$named" ] || fail "src/README.md names $named, which is gone"
done
if [ $failed -ne 0 ]; then
  exit 1
fi
echo "walkthrough: $(ls -d src/sinks/*/ src/transforms/*/ | wc -l) kinds and $(echo "$owners" | wc -w) route files made as src/README.md says"
