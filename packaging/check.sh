#!/usr/bin/env bash
# Checks packaging/orgd.service:
#
# 1. `systemd-analyze verify` accepts it with no output at all. verify exits 0 on many warnings
#    (an unknown or misspelt key, a value it cannot parse and ignores), so any line it prints
#    fails the check.
# 2. `systemd-analyze security --offline` rates its exposure at most MAX_EXPOSURE (2.0 by
#    default, on systemd's scale of 0 to 10), so the sandboxing cannot be loosened unnoticed.
# 3. Every ORGD_* variable named in packaging/ and the Dockerfile is one that orgd reads.
#
# Usage: packaging/check.sh [ORGD_BINARY]
#
# verify requires the unit's ExecStart binary to exist, so the check runs on a copy of the
# unit whose ExecStart points at ORGD_BINARY [default: target/release/orgd or target/debug/orgd,
# whichever exists]. CI runs it after `cargo test` on the binary that built:
# `packaging/check.sh target/debug/orgd` (see .ci/run). Needs systemd-analyze, from Debian's
# package systemd; no running systemd is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

unit=packaging/orgd.service
installed_binary=/usr/local/bin/orgd
max_exposure=${MAX_EXPOSURE:-2.0}

binary=${1:-}
if [ -z "$binary" ]; then
  for candidate in target/release/orgd target/debug/orgd; do
    if [ -x "$candidate" ]; then
      binary=$candidate
      break
    fi
  done
fi
if [ -z "$binary" ] || [ ! -x "$binary" ]; then
  echo "check.sh: no orgd binary${binary:+ at $binary}; build one or pass its path" >&2
  exit 2
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "check.sh: systemd-analyze not found (Debian: apt-get install systemd)" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A symlink at a plain path, so ExecStart needs no quoting whatever the binary's path is.
ln -s "$(realpath "$binary")" "$work/orgd"
# The unit must keep its name: verify and security derive the unit's name from the file's.
awk -v from="ExecStart=$installed_binary " -v to="ExecStart=$work/orgd " '
  index($0, from) == 1 { $0 = to substr($0, length(from) + 1); n++ }
  { print }
  END { if (n != 1) exit 1 }
' "$unit" >"$work/orgd.service" || {
  echo "check.sh: $unit must have exactly one line starting ExecStart=$installed_binary" >&2
  exit 1
}

failed=0

echo "== systemd-analyze verify $unit (ExecStart=$binary)"
status=0
output=$(systemd-analyze verify "$work/orgd.service" 2>&1) || status=$?
if [ "$status" -ne 0 ] || [ -n "$output" ]; then
  # Report lines against the real file, not the temporary copy.
  printf '%s\n' "$output" | sed "s|$work/orgd.service|$unit|g; s|$work/orgd|$binary|g"
  echo "FAILED: systemd-analyze verify exited $status and printed the lines above" >&2
  failed=1
fi

echo "== systemd-analyze security --offline $unit (at most $max_exposure)"
threshold=$(awk -v e="$max_exposure" 'BEGIN { printf "%d", e * 10 + 0.5 }')
status=0
output=$(systemd-analyze security --offline=yes --threshold="$threshold" \
  "$work/orgd.service" 2>&1) || status=$?
printf '%s\n' "$output" | grep 'Overall exposure level' || true
if [ "$status" -ne 0 ]; then
  printf '%s\n' "$output" | grep '✗' || true
  echo "FAILED: exposure above $max_exposure (or systemd-analyze security failed, $status)" >&2
  failed=1
fi

echo "== ORGD_* variables named in packaging/ and the Dockerfile"
named=()
for file in packaging/*.service packaging/*.example packaging/*.md Dockerfile; do
  if [ -f "$file" ]; then
    named+=("$file")
  fi
done
while read -r name; do
  if ! grep -rqF "\"$name\"" src/; then
    echo "FAILED: $name is not a variable orgd reads (src/ never names \"$name\")" >&2
    failed=1
  fi
done < <(grep -ohE '\bORGD_[A-Z0-9_]+' "${named[@]}" | sort -u)

if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "packaging checks passed"
