#!/usr/bin/env bash
# Runs clang-tidy over every source file with the build's compile_commands.json and fails on any
# finding (`make lint` shows the same findings). usage: check_tidy.sh CLANG_TIDY BUILD_DIR
set -uo pipefail
clang_tidy=$1
build=$2
files=$(git ls-files 'src/*.cc' 2>/dev/null || find src -name '*.cc')
# Two processes: the files are independent and this machine has two cores.
out=$(echo "$files" | xargs -P 2 -n 8 "$clang_tidy" -p "$build" --quiet --warnings-as-errors='*' 2>&1)
rc=$?
echo "$out" | grep -v "warnings generated" || true
if [ $rc -ne 0 ]; then
  echo "clang-tidy: findings above"
  exit 1
fi
echo "clang-tidy: $(echo "$files" | wc -w) files clean"
