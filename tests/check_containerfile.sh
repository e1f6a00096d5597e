#!/usr/bin/env bash
# The image's build stage installs every library scripts/setup installs for the host build
# (`make image` builds the same binary; a library added to one and not the other would fail
# only there), and the image stays as docs/deploy.md describes it: a non-root USER, a
# HEALTHCHECK on /healthz, the data directory as a volume, sluice as the entrypoint.
set -euo pipefail
cd "$(dirname "$0")/.."

setup_libs=$(sed -n '/^packages=(/,/^)/p' scripts/setup | grep -v '^\s*#' | tr ' ' '\n' |
  grep -E '^(lib[a-z0-9.+-]*-dev|prometheus-cpp-dev)$' | grep -v '^libclang' | sort -u)
build_stage=$(sed -n '/AS build$/,/^FROM /p' Containerfile)
missing=()
for lib in $setup_libs; do
  grep -qw -- "$lib" <<<"$build_stage" || missing+=("$lib")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Containerfile: the build stage lacks ${missing[*]} (installed by scripts/setup)"
  exit 1
fi
grep -A1 '^HEALTHCHECK' Containerfile | grep -q /healthz ||
  { echo "Containerfile: no HEALTHCHECK on /healthz"; exit 1; }
for line in '^USER 10001' '^VOLUME /var/lib/sluice' '^ENTRYPOINT \["/usr/local/bin/sluice"\]'; do
  grep -qE "$line" Containerfile || { echo "Containerfile: no line matching $line"; exit 1; }
done
echo "Containerfile: $(wc -w <<<"$setup_libs") libraries of scripts/setup in its build stage"
