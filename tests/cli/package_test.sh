#!/usr/bin/env bash
# The install rules and the CMake package config: install this build into a
# temporary prefix, then build and run a separate project that uses
# find_package(devpki) and links devpki::pki.
source "$(dirname "$0")/lib.sh"
: "${DEVPKI_BUILD_DIR:?run through ctest}"

prefix=$T/prefix
if cmake --install "$DEVPKI_BUILD_DIR" --prefix "$prefix" >"$T/install.log" 2>&1; then ok; else
  fail "cmake --install: $(tail -5 "$T/install.log")"; finish; fi
for f in include/pki/authority.hpp share/devpki/profiles/device-idevid.yaml \
         share/devpki/provisioning.yaml share/devpki/templates/fleet.yaml; do
  if [ -f "$prefix/$f" ]; then ok; else fail "not installed: $f"; fi
done
if ls "$prefix"/lib*/cmake/devpki/devpkiConfig.cmake >/dev/null 2>&1; then ok; else fail "no devpkiConfig.cmake"; fi
if grep -rq "openssl/" "$prefix/include/pki"; then fail "a public header includes OpenSSL"; else ok; fi

mkdir -p "$T/consumer"
cat > "$T/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.22)
project(consumer LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(devpki REQUIRED)
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE devpki::pki)
CMAKE
cat > "$T/consumer/main.cpp" <<'CPP'
#include <iostream>
#include <pki/key.hpp>
#include <pki/name.hpp>
#include <pki/onboarding.hpp>
int main() {
  const auto dn = pki::DistinguishedName::parse("/O=Acme/CN=consumer");
  const auto key = pki::PrivateKey::generate(pki::KeyAlgorithm::ec_p256);
  // A PNG label: libqrencode and libpng are libpki's private dependencies.
  const auto png = pki::render_label({"DP1|consumer", "consumer", ""}, pki::QrFormat::png);
  std::cout << dn.to_string() << " " << key.public_key().spki_sha256_hex().size() << " "
            << png.substr(1, 3) << "\n";
}
CPP
flags=""
[ "${DEVPKI_SANITIZE:-OFF}" = ON ] && flags="-fsanitize=address,undefined"
if cmake -S "$T/consumer" -B "$T/consumer/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
     -DCMAKE_CXX_FLAGS="$flags" >"$T/consumer.log" 2>&1 &&
   cmake --build "$T/consumer/build" >>"$T/consumer.log" 2>&1; then ok; else
  fail "consumer build: $(tail -15 "$T/consumer.log")"; finish; fi
out=$("$T/consumer/build/consumer")
if [ "$out" = "CN=consumer,O=Acme 64 PNG" ]; then ok; else fail "consumer printed '$out'"; fi
finish
