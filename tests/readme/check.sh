#!/usr/bin/env bash
# README.md's C++ snippets and the examples compile warning-free, as a user
# compiles them: -Wall -Wextra -Wpedantic -Werror (no -Wno-missing-field-
# initializers). Each ```cpp block becomes the body of its own function in a
# file of its own (its #include lines hoisted), after tests/readme/prelude.hpp,
# which declares the user's names the snippets take for granted.
# Usage: check.sh SOURCE_DIR BUILD_DIR CXX [KAFKA=ON|OFF]
set -euo pipefail
src=$1 build=$2 cxx=$3 kafka=${4:-OFF}
out=$build/readme-snippets
rm -rf "$out" && mkdir -p "$out"
flags=(-std=c++20 -Wall -Wextra -Wpedantic -Werror -fsyntax-only
       -I"$src/lib/include" -I"$build/generated/include" -I"$src/bridge/kafka/include" -I"$src/tests/readme")
awk -v out="$out" '
  /^```cpp[[:space:]]*$/ { n++; inblock = 1; body = ""; incs = ""; start = NR; next }
  inblock && /^```/ {
    f = sprintf("%s/block%02d.cpp", out, n)
    printf "// README.md line %d\n#include \"prelude.hpp\"\n%s\nauto readme_block_%d() {\n%s}\n", start, incs, n, body > f
    close(f); inblock = 0; next
  }
  inblock && /^#include/ { incs = incs $0 "\n"; next }
  inblock { body = body $0 "\n" }
' "$src/README.md"
# The prelude is precompiled once, with the snippets' flags, beside the
# blocks (where their #include "prelude.hpp" looks first): each snippet
# stays its own translation unit without parsing weir's headers again.
echo "#include \"$src/tests/readme/prelude.hpp\"" > "$out/prelude.hpp"
pch_flags=()
for f in "${flags[@]}"; do [[ $f == -fsyntax-only ]] || pch_flags+=("$f"); done
"$cxx" "${pch_flags[@]}" -x c++-header "$out/prelude.hpp" -o "$out/prelude.hpp.gch"
flags+=(-Winvalid-pch)
shopt -s nullglob
blocks=("$out"/block*.cpp)
(( ${#blocks[@]} > 0 )) || { echo "no \`\`\`cpp blocks found in README.md" >&2; exit 1; }
failed=0
for f in "${blocks[@]}"; do
  if ! "$cxx" "${flags[@]}" "$f" 2> "$f.log"; then
    echo "README.md snippet $(head -1 "$f" | sed 's,// ,,') does not compile warning-free:" >&2
    cat "$f.log" >&2
    failed=1
  fi
done
echo "README.md: ${#blocks[@]} C++ snippets compiled with -Wall -Wextra -Wpedantic -Werror"
# The examples, as a user would compile them.
examples=("$src"/examples/quickstart/*.cpp "$src"/examples/flash_sale/*.cpp)
[[ $kafka == ON ]] && examples+=("$src"/examples/kafka_bridge/*.cpp)
for f in "${examples[@]}"; do
  log=$out/example-$(basename "$(dirname "$f")")-$(basename "$f").log
  if ! "$cxx" "${flags[@]}" "$f" 2> "$log"; then
    echo "example $f does not compile warning-free:" >&2
    cat "$log" >&2
    failed=1
  fi
done
echo "examples: ${#examples[@]} files compiled with -Wall -Wextra -Wpedantic -Werror"
exit $failed
