#!/usr/bin/env bash
# Fails if any C++ file differs from what clang-format would write (`make format` fixes it).
set -euo pipefail
clang_format=${1:-clang-format}
files=$(git ls-files --cached --others --exclude-standard '*.h' '*.cc' 2>/dev/null || find src tests bench -name '*.h' -o -name '*.cc')
[ -n "$files" ] || exit 0
# shellcheck disable=SC2086
"$clang_format" --dry-run -Werror $files
echo "clang-format: $(echo "$files" | wc -w) files clean"
