#!/usr/bin/env python3
"""Reports lib/src files and functions over the size rules of issue 12.

  scripts/check_sizes.py [--max-file 600] [--max-function 100] [ROOT]

Prints one line per offender ("path: N lines" for a file, "path:LINE name:
N lines" for a function body, from its opening to its closing brace) and
exits 1 if there is any, 0 if none. ROOT defaults to lib/src of the
repository holding this script.

Function bodies are found by brace matching on the source with comments,
string and character literals blanked: a brace at namespace or class scope
whose declaration has a parameter list opens a function body; braces inside
a body (blocks, lambdas, initialisers) belong to it; braces of a
constructor's member initialisers are skipped. It is a heuristic for C++
as weir writes it (no macros that open scopes), not a parser. Not run by
CI: the rules are guidance ("~600", "~100"), and a reviewer weighs an
offender.
"""
import argparse
import pathlib
import re
import sys

SCOPE_KEYWORDS = re.compile(r"^(?:template\s*<.*>\s*)?(?:namespace|class|struct|union|enum|extern)\b", re.S)
CTOR_INIT = re.compile(r"\)\s*(?:noexcept\s*)?:(?!:)")
NAME = re.compile(r"([~\w:<>]+)\s*\($")


def blank(text):
    """`text` with comments and string/char literals replaced by spaces
    (newlines kept, so line numbers stay)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(")" + m.group(1) + '"', i)
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # digit separator 1'000
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def function_bodies(text):
    """Yields (name, first line, last line) of each function body."""
    src = blank(text)
    stack = []  # entries: (kind, start line, name)
    stmt_start = 0
    line = 1
    for i, c in enumerate(src):
        if c == "\n":
            line += 1
        elif c == ";" and not any(k == "fn" for k, _, _ in stack):
            stmt_start = i + 1
        elif c == "{":
            if any(k == "fn" for k, _, _ in stack):
                stack.append(("block", line, ""))
                continue
            stmt = src[stmt_start:i].strip()
            if re.search(r"[\w>]$", stmt) and CTOR_INIT.search(stmt):
                stack.append(("init", line, ""))  # a member initialiser `m_{x}`
                continue
            if SCOPE_KEYWORDS.match(stmt) or "(" not in stmt or stmt.endswith("="):
                stack.append(("scope", line, ""))
                stmt_start = i + 1
                continue
            head = stmt[: stmt.find("(") + 1] if "(" in stmt else stmt
            m = NAME.search(re.sub(r"\s+", " ", head))
            stack.append(("fn", line, m.group(1) if m else "?"))
        elif c == "}":
            if not stack:
                continue
            kind, start, name = stack.pop()
            if kind == "fn":
                yield name, start, line
            if kind in ("fn", "scope"):
                stmt_start = i + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default=str(pathlib.Path(__file__).resolve().parent.parent / "lib" / "src"))
    ap.add_argument("--max-file", type=int, default=600)
    ap.add_argument("--max-function", type=int, default=100)
    args = ap.parse_args()
    root = pathlib.Path(args.root)
    if not root.is_dir():
        print(f"check_sizes: {root} is not a directory", file=sys.stderr)
        return 2
    offenders = 0
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".cpp", ".hpp", ".h", ".cc")):
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(root.parent.parent) if root.parent.parent in path.parents else path
        lines = text.count("\n")
        if lines > args.max_file:
            print(f"{rel}: {lines} lines (file; at most {args.max_file})")
            offenders += 1
        for name, first, last in function_bodies(text):
            n = last - first + 1
            if n > args.max_function:
                print(f"{rel}:{first} {name}: {n} lines (function body; at most {args.max_function})")
                offenders += 1
    return 1 if offenders else 0


if __name__ == "__main__":
    sys.exit(main())
