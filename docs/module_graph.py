"""Print qa's module graph: each module, its line count and the qa modules it imports; then any cycles.

    python docs/module_graph.py            # this checkout
    python docs/module_graph.py --dot      # Graphviz: | dot -Tsvg > graph.svg
    python docs/module_graph.py --root /path/to/other/checkout

Imports inside functions (made lazily, to keep `import qa` light) count as edges too, marked `~`.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def graph(root: Path) -> tuple[dict[str, int], dict[str, dict[str, bool]]]:
    """(lines per module, module -> {imported qa module: imported at module level})."""
    files = sorted((root / "qa").rglob("*.py"))
    names = {module_name(f, root): f for f in files}
    lines, edges = {}, {}
    for name, f in names.items():
        source = f.read_text(encoding="utf-8")
        lines[name] = len(source.splitlines())
        tree = ast.parse(source)
        top_level = {id(n) for n in tree.body}
        out: dict[str, bool] = {}
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from qa import onnx_embed` imports the submodule; `from qa.x import name`, qa.x
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in names else node.module
                           for a in node.names]
            for t in targets:
                while t and t not in names:
                    t = t.rpartition(".")[0]
                if t and t != name and t.startswith("qa"):
                    out[t] = out.get(t, False) or id(node) in top_level
        edges[name] = out
    return lines, edges


def cycles(edges: dict[str, dict[str, bool]], top_level_only: bool) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w, top in edges.get(v, {}).items():
            if top_level_only and not top:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            # A package imports its own submodules (qa.stores -> qa.stores.base): not a cycle.
            comp = [c for c in comp if not any(o.startswith(c + ".") for o in comp)] if len(comp) > 1 else comp
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--dot", action="store_true")
    args = ap.parse_args()
    lines, edges = graph(args.root)
    if args.dot:
        print("digraph qa {")
        for a, targets in edges.items():
            for b, top in targets.items():
                print(f'  "{a}" -> "{b}"{"" if top else " [style=dashed]"};')
        print("}")
        return
    for name in sorted(edges):
        deps = ", ".join(f"{'' if top else '~'}{d}" for d, top in sorted(edges[name].items()))
        print(f"{name:24} {lines[name]:5}  {deps}")
    print(f"{len(lines)} modules, {sum(lines.values())} lines")
    for label, top in (("import cycles (module level)", True), ("import cycles (any level)", False)):
        found = cycles(edges, top)
        print(f"{label}: {'; '.join(' <-> '.join(c) for c in found) if found else 'none'}")


if __name__ == "__main__":
    main()
