"""The project's import graph has no cycle: every module can be read before the ones that import it.

``./dev lint`` checks the import contracts (layers, plain-Python ingestion
and audio, tasks sent by name); this walks every import of every module of
the six packages, those inside functions included, and finds strongly
connected components (Tarjan's algorithm). Any component of more than one
module, or a module importing itself, is a cycle, and is named.
"""

from __future__ import annotations

import grimp

PACKAGES = ("ebookvoice", "accounts", "audiobooks", "billing", "credits", "tts_engine")


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        # Iterative, so a long chain of imports cannot exhaust Python's recursion limit.
        work = [(module, iter(sorted(imports[module])))]
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(imports[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in imports[node]:
                    cycles.append(sorted(component))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return cycles


def test_the_finder_names_a_cycle_when_there_is_one():
    graph = grimp.ImportGraph()
    for module in ("a", "a.one", "a.two", "a.three"):
        graph.add_module(module)
    graph.add_import(importer="a.one", imported="a.two")
    graph.add_import(importer="a.two", imported="a.three")
    graph.add_import(importer="a.three", imported="a.one")
    assert import_cycles(graph) == [["a.one", "a.three", "a.two"]]


def test_no_module_of_the_project_imports_itself_back():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert len(graph.modules) > 250  # the whole project was read
    assert import_cycles(graph) == []
