#!/usr/bin/env bash
# Builds and runs the cmocka tests of the C shims (Tests/CShims/*.c) against Sources/CShims.
set -euo pipefail
cd "$(dirname "$0")/.."
out=ci/out; mkdir -p "$out"
shopt -s nullglob
tests=(Tests/CShims/*_test.c)
if ((${#tests[@]} == 0)); then echo "cshims: ERROR: no tests in Tests/CShims" >&2; exit 1; fi
for t in "${tests[@]}"; do
  bin="$out/$(basename "${t%.c}")"
  gcc -std=gnu11 -Wall -Wextra -Werror -g -ISources/CShims/include "$t" Sources/CShims/*.c \
      $(pkg-config --cflags --libs cmocka) -o "$bin"
  echo "cshims: running $bin"
  "$bin"
done
