#!/usr/bin/env python3
"""Lines to audit in one build: per crate, the Rust code the compiler read and the C code
compiled in, without comments, blank lines and test-only code; and its `unsafe`.

Called by bench/audit-lines.sh, which builds (`cargo check --release`) against vendored
sources, then runs:

    audit_lines.py count --tree TREE --normal-tree TREE --metadata METADATA \
                         --target-dir DIR [--workspace DIR] [--skip NAME] --out FILE.json
    audit_lines.py report --ours FILE.json --peer FILE.json [--write DEPENDENCIES.md README.md]
    audit_lines.py lines FILE...      (per file: code lines, all lines; docs/restore-path.sh)

TREE is `cargo tree -e normal,build --prefix none` output (the crates of the build; the
`-e normal,no-proc-macro` tree tells those that run at build time only), METADATA `cargo metadata --format-version 1` output
(where each crate's sources are). `report` prints the totals and, with `--write`, rewrites
the block between the audit-lines markers of DEPENDENCIES.md and the marked total on
README.md's first screen.

What is counted, and how (repeated in DEPENDENCIES.md):
- Rust: every `.rs` file that rustc's dep-info (`*.d` in the target directory) lists for
  the crate's library or binary and for its build script, i.e. the files compiled for
  this target with these features. Lines holding code are counted: blank lines, comments
  (`//`, `/* */`, doc comments) and items under `#[cfg(test)]` (or a `cfg` that needs
  `test`) are not. Items gated off by other `cfg`s inside a compiled file are counted.
- C: the `.c` files a build script compiled (found from its object files) and every
  header they include with `#include "..."`, comments and blank lines left out.
- `unsafe`: `unsafe {` blocks, `unsafe fn` (declared or defined), and functions declared
  in `extern` blocks (foreign functions, unsafe to call), in the counted Rust code.
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

# --- Rust -------------------------------------------------------------------------------

_RAW_STR = re.compile(r'b?r(#*)"')


def rust_code_mask(src):
    """A list, per character of `src`, of: 'c' code, 's' inside a string or char literal
    (code, but not scanned for tokens), ' ' comment."""
    n = len(src)
    mask = [" "] * n
    i = 0
    while i < n:
        c = src[i]
        nxt = src[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "/" and nxt == "*":
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            i = j
            continue
        m = _RAW_STR.match(src, i)
        if m and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = src.find('"' + m.group(1), m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            for k in range(i, end):
                mask[k] = "s"
            i = end
            continue
        if c == '"' or (c == "b" and nxt == '"' and (i == 0 or not src[i - 1].isalnum())):
            j = i + (2 if c == "b" else 1)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            for k in range(i, min(j + 1, n)):
                mask[k] = "s"
            i = j + 1
            continue
        if c == "'":
            # A char literal ('a', '\n', '\u{1f}', '\''), or a lifetime / label ('a).
            m = re.match(r"'(\\u\{[0-9a-fA-F_]*\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'\n])'", src[i:])
            if m:
                for k in range(i, i + m.end()):
                    mask[k] = "s"
                i += m.end()
                continue
        mask[i] = "c"
        i += 1
    return mask


def _cfg_needs_test(attr):
    """Whether a `#[cfg(...)]` predicate can only hold in test builds: `test` itself, or
    `all(...)` with `test` among its parts (`not(test)` and `any(test, x)` do not)."""
    pred = attr.strip()
    if pred == "test":
        return True
    m = re.fullmatch(r"all\((.*)\)", pred, re.S)
    if m:
        depth, part, parts = 0, "", []
        for ch in m.group(1):
            if ch == "," and depth == 0:
                parts.append(part)
                part = ""
                continue
            depth += ch == "("
            depth -= ch == ")"
            part += ch
        parts.append(part)
        return any(_cfg_needs_test(p) for p in parts)
    return False


def _item_end(code, start):
    """The end of the item that starts at `start` in `code` (strings and comments blanked):
    the `;` or the closing `}` of its first block at nesting depth 0."""
    depth = 0
    i = start
    n = len(code)
    while i < n:
        ch = code[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            # A block ends the item, unless a `;` follows (`use a::{b, c};`).
            if depth == 0 and ch == "}" and not code[i + 1 :].lstrip().startswith(";"):
                return i + 1
        elif ch == ";" and depth == 0:
            return i + 1
        i += 1
    return n


def count_rust(src):
    """(code lines, unsafe blocks, unsafe fns, foreign fns) of one Rust file."""
    mask = rust_code_mask(src)
    # Tokens are scanned in `code`: comments and literal contents blanked out.
    code = "".join(ch if m == "c" else (" " if ch != "\n" else "\n") for ch, m in zip(src, mask))
    counted = [m != " " and not ch.isspace() for ch, m in zip(src, mask)]
    # Test-only items: from the attribute to the end of the item.
    for m in re.finditer(r"#\s*\[\s*cfg\s*\((.*?)\)\s*\]", code, re.S):
        # The attribute's own text is in `code`; `.*?` stops at the first `)]`, which is
        # enough for the predicates used with `test`.
        if not _cfg_needs_test(m.group(1)):
            continue
        end = _item_end(code, m.end())
        for k in range(m.start(), end):
            counted[k] = False
        code = code[: m.start()] + re.sub(r"[^\n]", " ", code[m.start() : end]) + code[end:]
    lines = 0
    line_has_code = False
    for ch, keep in zip(src, counted):
        if ch == "\n":
            lines += line_has_code
            line_has_code = False
        elif keep:
            line_has_code = True
    lines += line_has_code
    blocks = len(re.findall(r"\bunsafe\s*\{", code))
    fns = len(re.findall(r'\bunsafe\s+(?:extern\s*(?:"[^"]*"\s*)?)?fn\b', code))
    # `"…"` is blanked in `code`, so an ABI string shows as `extern` + spaces + `{`.
    foreign = 0
    for m in re.finditer(r"\bextern\s*\{", code):
        end = _item_end(code, m.start())
        foreign += len(re.findall(r"\bfn\b", code[m.end() : end]))
    return lines, blocks, fns, foreign


# --- C ----------------------------------------------------------------------------------


def count_c(src):
    """Code lines of a C file: comments and blank lines left out."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * src.count("\n", i, j))
            i = j
            continue
        if c in "\"'":
            j = i + 1
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            out.append(src[i : j + 1])
            i = j + 1
            continue
        out.append(c)
        i += 1
    return sum(1 for line in "".join(out).split("\n") if line.strip())


def c_files(out_dir, crate_dir):
    """The C sources a build script compiled (from its `HASH-name.o` objects in OUT_DIR)
    and the headers they include, found in the crate and in OUT_DIR."""
    objects = sorted(p.name for p in out_dir.glob("*.o"))
    if not objects:
        return []
    names = {re.sub(r"^[0-9a-f]+-", "", o)[:-2] + ".c" for o in objects}
    sources = sorted(p for p in crate_dir.rglob("*.c") if p.name in names)
    seen, todo = [], list(sources)
    include_dirs = [out_dir / "include"] + sorted({p.parent for p in crate_dir.rglob("*.h")})
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.append(f)
        for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"', f.read_text(errors="replace"), re.M):
            for d in [f.parent] + include_dirs:
                cand = (d / inc).resolve()
                if cand.is_file():
                    todo.append(cand)
                    break
    return sorted(set(seen))


# --- the build --------------------------------------------------------------------------


def dep_info_files(target_dir, workspace):
    """Every Rust source file the dep-info files of a target directory list, each with
    whether a build script (rather than a library or binary) was made from it."""
    files = {}
    for d in Path(target_dir).rglob("*.d"):
        build_script = d.name.startswith("build_script_")
        text = d.read_text(errors="replace").replace("\\\n", " ")
        for line in text.splitlines():
            _, sep, deps = line.partition(": ")
            if not sep:
                continue
            for tok in re.split(r"(?<!\\) ", deps):
                tok = tok.replace("\\ ", " ").strip()
                if tok.endswith(".rs"):
                    p = Path(tok)
                    p = (p if p.is_absolute() else Path(workspace) / p).resolve()
                    files[p] = files.get(p, True) and build_script
    return files


def count(argv):
    ap = argparse.ArgumentParser(prog="audit_lines.py count")
    ap.add_argument("--tree", required=True)
    ap.add_argument("--normal-tree", required=True,
                    help="`cargo tree -e normal,no-proc-macro` output: what reaches the binary")
    ap.add_argument("--metadata", required=True)
    ap.add_argument("--target-dir", required=True)
    ap.add_argument("--workspace", default=".")
    ap.add_argument("--skip", action="append", default=[], help="a root package to leave out")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    crates = set()
    for line in Path(args.tree).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("v"):
            crates.add((parts[0], parts[1][1:]))
    meta = json.loads(Path(args.metadata).read_text())
    roots = {}
    for pkg in meta["packages"]:
        key = (pkg["name"], pkg["version"])
        if key in crates:
            roots[key] = Path(pkg["manifest_path"]).parent.resolve()
    missing = crates - set(roots)
    if missing:
        sys.exit(f"no sources for {sorted(missing)} in the metadata")
    normal = set()
    for line in Path(args.normal_tree).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("v"):
            normal.add((parts[0], parts[1][1:]))
    target = Path(args.target_dir).resolve()
    files = dep_info_files(target, Path(args.workspace).resolve())
    # Build scripts' OUT_DIRs: target/<profile>/build/<name>-<hash>/out.
    out_dirs = {}
    for d in target.glob("*/build/*/out"):
        name = re.sub(r"-[0-9a-f]{16}$", "", d.parent.name)
        out_dirs.setdefault(name, []).append(d)

    by_root = sorted(roots.items(), key=lambda kv: -len(str(kv[1])))
    rows = {key: {"rust": 0, "build_rs": 0, "c": 0, "unsafe_blocks": 0, "unsafe_fns": 0,
                  "foreign_fns": 0, "files": 0} for key in roots}
    unowned = []
    for f, build_script in sorted(files.items()):
        owner = None
        for key, root in by_root:
            if root == f or root in f.parents:
                owner = key
                break
        if owner is None:
            for name, dirs in out_dirs.items():
                if any(d in f.parents for d in dirs):
                    owner = next((k for k in roots if k[0] == name), None)
        if owner is None:
            unowned.append(str(f))
            continue
        lines, blocks, fns, foreign = count_rust(f.read_text(errors="replace"))
        row = rows[owner]
        row["rust"] += lines
        row["files"] += 1
        if build_script:
            row["build_rs"] += lines
        row["unsafe_blocks"] += blocks
        row["unsafe_fns"] += fns
        row["foreign_fns"] += foreign
    for key, root in roots.items():
        for d in out_dirs.get(key[0], []):
            for cf in c_files(d, root):
                rows[key]["c"] += count_c(cf.read_text(errors="replace"))
                rows[key]["c_files"] = rows[key].get("c_files", 0) + 1
    result = {
        "crates": [
            {"name": k[0], "version": k[1], "build_only": k not in normal, **v}
            for k, v in sorted(rows.items())
            if k[0] not in args.skip
        ],
        "unowned_files": unowned,
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")



OWN_CRATES = ("yhsm", "yhsm-proto", "yhsm-transport")


def _total(build, key):
    return sum(c[key] for c in build["crates"])


def _table(build, title):
    rows = [f"**{title}**", "",
            "| crate | version | Rust lines | of which build script | C lines | `unsafe` blocks "
            "| `unsafe fn` | foreign fns |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for c in sorted(build["crates"], key=lambda c: (-(c["rust"] + c["c"]), c["name"])):
        name = f"`{c['name']}`" + (" (build time only)" if c["build_only"] else "")
        rows.append(f"| {name} | {c['version']} | {c['rust']:,} | {c['build_rs']:,} | "
                    f"{c['c']:,} | {c['unsafe_blocks']} | {c['unsafe_fns']} | {c['foreign_fns']} |")
    rows.append(f"| **total: {len(build['crates'])} crates** | | **{_total(build, 'rust'):,}** | "
                f"{_total(build, 'build_rs'):,} | **{_total(build, 'c'):,}** | "
                f"{_total(build, 'unsafe_blocks')} | {_total(build, 'unsafe_fns')} | "
                f"{_total(build, 'foreign_fns')} |")
    return "\n".join(rows)


def _summary(build):
    rust, c = _total(build, "rust"), _total(build, "c")
    build_time = sum(x["rust"] if x["build_only"] else x["build_rs"] for x in build["crates"])
    return {"crates": len(build["crates"]), "rust": rust, "c": c, "all": rust + c,
            "build_time": build_time}


def _rewrite(path, pattern, new):
    text = Path(path).read_text()
    if not re.search(pattern, text, re.S):
        sys.exit(f"{path}: no block matching {pattern!r} to rewrite")
    Path(path).write_text(re.sub(pattern, lambda _: new, text, count=1, flags=re.S))


def report(argv):
    ap = argparse.ArgumentParser(prog="audit_lines.py report")
    ap.add_argument("--ours", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--write", nargs=2, metavar=("DEPENDENCIES_MD", "README_MD"))
    args = ap.parse_args(argv)
    ours_build, peer_build = (json.loads(Path(p).read_text()) for p in (args.ours, args.peer))
    for build in (ours_build, peer_build):
        if build["unowned_files"]:
            sys.exit(f"source files of no crate: {build['unowned_files'][:5]}")
    ours, peer = _summary(ours_build), _summary(peer_build)
    own = sum(c["rust"] for c in ours_build["crates"] if c["name"] in OWN_CRATES)
    peer_note = ""
    if peer["c"] == 0 and any(c["name"] == "libusb1-sys" for c in peer_build["crates"]):
        peer_note = (
            " The `yubihsm` crate's build compiled no C here: `libusb1-sys` without its "
            "`vendored` feature links the system's libusb-1.0 when pkg-config finds it (it "
            f"did), so the same library ({ours['c']:,} lines in the 1.0.27 sources yhsm "
            "compiles in) is still there to audit, in the distribution's package.")
    block = "\n".join([
        "<!-- audit-lines:begin (generated by bench/audit-lines.sh; do not edit by hand) -->",
        "| build | crates | Rust lines | of which run at build time only | C lines compiled in "
        "| lines to audit |",
        "|---|---:|---:|---:|---:|---:|",
        f"| yhsm, minimal (`-p yhsm --no-default-features --features usb`) | {ours['crates']} "
        f"| {ours['rust']:,} | {ours['build_time']:,} | {ours['c']:,} | **{ours['all']:,}** |",
        f"| of which yhsm's own crates (`yhsm`, `yhsm-proto`, `yhsm-transport`) | 3 | {own:,} "
        "| | 0 | " f"{own:,} |",
        f"| `yubihsm` 0.42.1, USB only (`default-features = false, features = [\"usb\"]`) "
        f"| {peer['crates']} | {peer['rust']:,} | {peer['build_time']:,} | {peer['c']:,} "
        f"| **{peer['all']:,}** |",
        "",
        "\"Run at build time only\": build scripts, procedural macros and the crates only "
        "they use (marked \"build time only\" below); they run on the build machine, not in "
        "the binary, and can change what is built."
        + peer_note,
        "",
        _table(ours_build, "yhsm, minimal build"),
        "",
        _table(peer_build, "`yubihsm` 0.42.1, USB only"),
        "<!-- audit-lines:end -->",
    ])
    print(f"yhsm minimal: {ours['crates']} crates, {ours['all']:,} lines to audit "
          f"({ours['rust']:,} Rust, {ours['c']:,} C); yubihsm 0.42.1 USB: {peer['crates']} "
          f"crates, {peer['all']:,} lines")
    if args.write:
        deps, readme = args.write
        _rewrite(deps, r"<!-- audit-lines:begin.*?<!-- audit-lines:end -->", block)
        _rewrite(readme, r"<!-- audit-total -->.*?<!-- /audit-total -->",
                 f"<!-- audit-total -->{ours['crates']} crates and {ours['all']:,} lines of code "
                 f"to audit (the `yubihsm` crate's USB-only build: {peer['crates']} crates, "
                 f"{peer['all']:,} lines)<!-- /audit-total -->")


def lines(argv):
    """`lines FILE...`: per Rust file, its code lines (as counted above: no comments, blank
    lines or test-only items) and all its lines, tab-separated: `code total file`."""
    for f in argv:
        text = Path(f).read_text(errors="replace")
        print(f"{count_rust(text)[0]}\t{len(text.splitlines())}\t{f}")


def main():
    commands = {"count": count, "report": report, "lines": lines}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit("usage: audit_lines.py count|report|lines ...")
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
