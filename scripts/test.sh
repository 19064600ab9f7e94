#!/usr/bin/env bash
# Builds devpki and runs every test (unit + end-to-end), twice: a normal
# build, then an AddressSanitizer + UndefinedBehaviorSanitizer build.
# Installs the Debian packages it needs when they are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
scripts/deps.sh test
jobs=$(nproc)
# deps.sh installed zbar-tools: the QR unit test must scan its labels, not skip.
export DEVPKI_REQUIRE_ZBAR=1

run() {  # run <build dir> <cmake args...>
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DDEVPKI_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
}

echo "== build and test (RelWithDebInfo)"
run build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build and test under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run build/sanitize -DCMAKE_BUILD_TYPE=Debug -DDEVPKI_SANITIZE=ON -DDEVPKI_BUILD_BENCH=OFF
echo "== all tests passed (normal and sanitizer builds)"
