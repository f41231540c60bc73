#!/usr/bin/env bash
# Installs weir from BUILD_DIR into a scratch prefix, then builds and runs a
# consumer project against it twice: with find_package(weir CONFIG) and with
# pkg-config. Usage: check.sh SOURCE_DIR BUILD_DIR SCRATCH_DIR
set -euo pipefail
src=$1 build=$2 scratch=$3
rm -rf "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" > /dev/null
cmake -S "$src/tests/install/consumer" -B "$scratch/consumer" -DCMAKE_PREFIX_PATH="$scratch/prefix" > /dev/null
cmake --build "$scratch/consumer" > /dev/null
"$scratch/consumer/consumer"
if [[ -x "$scratch/consumer/kafka_consumer" ]]; then "$scratch/consumer/kafka_consumer"; fi
export PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig"
c++ -std=c++20 "$src/tests/install/consumer/main.cpp" -o "$scratch/pc-consumer" $(pkg-config --cflags --libs weir) $(pkg-config --libs lmdb)
"$scratch/pc-consumer"
