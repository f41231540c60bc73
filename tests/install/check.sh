#!/usr/bin/env bash
# The installed package, as a user links it. Installs weir from BUILD_DIR, and
# a second build of the other library kind (BUILD_SHARED_LIBS flipped, the
# library alone), each into its own prefix; then, for each: the README's
# pkg-config commands (verbatim: every command run here is first looked up
# in README.md), find_package(weir) without and with COMPONENTS kafka, and a
# core-only project configured where librdkafka is invisible to pkg-config.
# Usage: check.sh SOURCE_DIR BUILD_DIR SCRATCH_DIR
set -euo pipefail
src=$1 build=$2 scratch=$3
rm -rf "$scratch"
mkdir -p "$scratch"
readme=$src/README.md
say() { echo "install check: $*"; }
fail() { echo "install check FAILED: $*" >&2; exit 1; }

# Runs a command line only if README.md holds it verbatim, as a line.
readme_cmd() {
  grep -qxF -- "$1" "$readme" || fail "README.md does not contain the line: $1"
  eval "$1"
}
# The consumer's CMake lines must be README lines too.
for line in 'find_package(weir CONFIG REQUIRED)' 'find_package(weir CONFIG REQUIRED COMPONENTS kafka)' \
            'target_link_libraries(app PRIVATE weir::weir)' 'target_link_libraries(app PRIVATE weir::kafka)'; do
  grep -qxF -- "$line" "$readme" || fail "README.md does not contain the line: $line"
  grep -qxF -- "$line" "$src/tests/install/consumer/CMakeLists.txt" || fail "consumer project lacks: $line"
done

cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
kafka=$(cache WEIR_KAFKA)
main_kind=static
[[ "$(cache BUILD_SHARED_LIBS)" =~ ^(ON|1|TRUE|YES)$ ]] && main_kind=shared
other_kind=shared other_flag=ON
[[ $main_kind == shared ]] && other_kind=static other_flag=OFF

# The other kind: the library (and bridge) alone, with the main build's compiler launcher.
# Built unoptimised (build type None: no -O, no -g): this check is about
# packaging and linking, not code generation, and -O3 made it the longest
# step of `make test` (~3.5 of its ~5 minutes of CPU on 2 cores).
launcher=$(cache CMAKE_CXX_COMPILER_LAUNCHER)
cmake -S "$src" -B "$scratch/build-$other_kind" -DCMAKE_BUILD_TYPE=None -DBUILD_SHARED_LIBS=$other_flag \
  -DWEIR_BUILD_TESTS=OFF -DWEIR_BUILD_BENCH=OFF -DWEIR_BUILD_EXAMPLES=OFF -DWEIR_BUILD_TOOLS=OFF \
  -DWEIR_KAFKA="${kafka:-OFF}" ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER=$launcher} > "$scratch/build-$other_kind.log"
cmake --build "$scratch/build-$other_kind" -j2 >> "$scratch/build-$other_kind.log" ||
  { tail -30 "$scratch/build-$other_kind.log"; fail "building the $other_kind library"; }

# pkg-config sees only this directory, the prefix and LMDB: no librdkafka.
mkdir -p "$scratch/pc-no-rdkafka"
cp "$(pkg-config --variable=pcfiledir lmdb)/lmdb.pc" "$scratch/pc-no-rdkafka/"

check_kind() {
  local kind=$1 from=$2 prefix=$scratch/prefix-$1
  cmake --install "$from" --prefix "$prefix" > /dev/null
  export LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if [[ $kind == static ]]; then
    [[ -f $prefix/lib/libweir.a && ! -e $prefix/lib/libweir.so ]] || fail "$kind prefix: expected libweir.a only"
  else
    [[ -e $prefix/lib/libweir.so && ! -e $prefix/lib/libweir.a ]] || fail "$kind prefix: expected libweir.so only"
  fi

  # pkg-config, the README's commands.
  local work=$scratch/pc-$kind
  mkdir -p "$work"
  cp "$src/tests/install/consumer/main.cpp" "$work/app.cpp"
  (cd "$work" && export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" &&
     readme_cmd 'c++ app.cpp -o app $(pkg-config --cflags --libs weir)') || fail "$kind: pkg-config weir did not build"
  "$work/app" "$kind" || fail "$kind: the pkg-config consumer failed"
  if [[ $kafka == ON ]]; then
    cp "$src/tests/install/consumer/kafka_main.cpp" "$work/app.cpp"
    (cd "$work" && export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" &&
       readme_cmd 'c++ app.cpp -o app $(pkg-config --cflags --libs weir-kafka)') ||
      fail "$kind: pkg-config weir-kafka did not build"
    "$work/app" || fail "$kind: the pkg-config weir-kafka consumer failed"
  fi
  say "$kind: pkg-config weir${kafka/ON/ and weir-kafka} link and run"

  # find_package(weir CONFIG REQUIRED), core only, librdkafka invisible.
  PKG_CONFIG_LIBDIR="$scratch/pc-no-rdkafka" PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
    cmake -S "$src/tests/install/consumer" -B "$scratch/cmake-$kind" -DCMAKE_PREFIX_PATH="$prefix" > "$scratch/cmake-$kind.log" ||
    { cat "$scratch/cmake-$kind.log"; fail "$kind: find_package(weir) without librdkafka visible"; }
  cmake --build "$scratch/cmake-$kind" > /dev/null || fail "$kind: building the find_package consumer"
  "$scratch/cmake-$kind/app" "$kind" || fail "$kind: the find_package consumer failed"
  say "$kind: find_package(weir CONFIG REQUIRED) configures, links and runs without librdkafka visible"

  if [[ $kafka == ON ]]; then
    # COMPONENTS kafka: the bridge, with librdkafka where pkg-config finds it.
    cmake -S "$src/tests/install/consumer" -B "$scratch/cmake-kafka-$kind" -DWITH_KAFKA=ON \
      -DCMAKE_PREFIX_PATH="$prefix" > "$scratch/cmake-kafka-$kind.log" ||
      { cat "$scratch/cmake-kafka-$kind.log"; fail "$kind: find_package(weir ... COMPONENTS kafka)"; }
    cmake --build "$scratch/cmake-kafka-$kind" > /dev/null || fail "$kind: building the weir::kafka consumer"
    "$scratch/cmake-kafka-$kind/app" ||
      fail "$kind: the weir::kafka consumer failed"
    say "$kind: find_package(weir CONFIG REQUIRED COMPONENTS kafka) links weir::kafka"
    if [[ $kind == static ]]; then
      # ... and the component, not the core, is what needs librdkafka.
      if PKG_CONFIG_LIBDIR="$scratch/pc-no-rdkafka" cmake -S "$src/tests/install/consumer" \
           -B "$scratch/cmake-kafka-hidden" -DWITH_KAFKA=ON -DCMAKE_PREFIX_PATH="$prefix" \
           > "$scratch/cmake-kafka-hidden.log" 2>&1; then
        fail "$kind: COMPONENTS kafka configured although librdkafka was invisible"
      fi
      grep -q "rdkafka" "$scratch/cmake-kafka-hidden.log" ||
        { cat "$scratch/cmake-kafka-hidden.log"; fail "COMPONENTS kafka without librdkafka: no reason naming rdkafka"; }
      say "$kind: COMPONENTS kafka without librdkafka is refused, naming rdkafka"
    fi
  fi
}
check_kind "$main_kind" "$build"
check_kind "$other_kind" "$scratch/build-$other_kind"
say "PASS"
