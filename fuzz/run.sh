#!/bin/sh
# Runs one libFuzzer target for a short, bounded campaign. libFuzzer writes the inputs it
# finds into its first corpus directory, so it gets a temporary copy of the committed seeds;
# the source tree is never written. Crash reproducers go where the artifact prefix says.
# Exits non-zero when the fuzzer finds a crash, a leak or a failed invariant.
#
# usage: run.sh FUZZER SEED_DIR ARTIFACT_PREFIX [libFuzzer options...]
set -eu

fuzzer=$1
seeds=$2
artifacts=$3
shift 3

work=$(mktemp -d "${TMPDIR:-/tmp}/braid-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT HUP INT TERM
cp "$seeds"/* "$work"/ 2>/dev/null || true
mkdir -p "$(dirname "$artifacts")"

"$fuzzer" -artifact_prefix="$artifacts" "$@" "$work"
