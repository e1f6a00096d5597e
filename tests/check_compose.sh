#!/usr/bin/env bash
# deploy/compose holds up offline: Debian's docker-compose reads compose.yaml, the Sluice
# configuration every role shares passes `sluice validate` with the values compose gives it,
# and promtool accepts the Prometheus configuration with the rules it mounts.
#
# usage: check_compose.sh SLUICE_BIN
set -euo pipefail
sluice=$1
cd "$(dirname "$0")/../deploy/compose"

# Read whole first: grep -q stopping early would fail the pipe (pipefail).
config=$(docker-compose -f compose.yaml config)
for service in processor collector api kafka postgres prometheus grafana; do
  grep -q "^  $service:" <<<"$config" ||
    { echo "compose.yaml: no $service service"; exit 1; }
done

SLUICE_READ_TOKEN=t EVENTS_WRITE_KEY=k PG_PASSWORD=p "$sluice" validate sluice.yaml

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp ../prometheus/rules.yaml read-token "$work"/
sed "s|/etc/prometheus/|$work/|g" prometheus.yml > "$work/prometheus.yml"
promtool check config "$work/prometheus.yml" >/dev/null
echo "compose: compose.yaml, sluice.yaml and prometheus.yml hold"
