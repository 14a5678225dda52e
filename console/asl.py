"""Amazon States Language definition -> a layered graph the page draws as SVG (no I/O)."""

from __future__ import annotations

from collections import deque
from typing import Any, TypedDict

NODE_W = 176
NODE_H = 38
GAP_X = 36
GAP_Y = 34
MARGIN = 20
GUTTER = 56  # right of the nodes: Catch edges run down it, so they do not cross the main path


class Node(TypedDict):
    name: str
    type: str
    x: int
    y: int
    w: int
    h: int
    terminal: bool


class Edge(TypedDict):
    source: str
    target: str
    kind: str  # "next" | "choice" | "default" | "catch"
    label: str


class Graph(TypedDict):
    start: str
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    gutter_x: int


def edges_of(name: str, state: dict[str, Any]) -> list[Edge]:
    """Every transition a state can take, labelled the way the AWS console labels them."""
    out: list[Edge] = []
    if "Next" in state:
        out.append({"source": name, "target": state["Next"], "kind": "next", "label": ""})
    for choice in state.get("Choices", []):
        if "Next" in choice:
            label = choice.get("Variable", "") or "rule"
            out.append({"source": name, "target": choice["Next"], "kind": "choice", "label": label})
    if "Default" in state:
        out.append({"source": name, "target": state["Default"], "kind": "default", "label": "Default"})
    for catch in state.get("Catch", []):
        errors = ", ".join(catch.get("ErrorEquals", []))
        out.append({"source": name, "target": catch["Next"], "kind": "catch", "label": f"Catch {errors}"})
    return out


def _ranks(start: str, names: list[str], edges: list[Edge]) -> dict[str, int]:
    """Longest-path layering over the forward edges (edges that close a cycle are ignored)."""
    succ: dict[str, list[str]] = {n: [] for n in names}
    for e in edges:
        if e["target"] in succ:
            succ[e["source"]].append(e["target"])
    # Depth-first order from the start marks back edges, so loops (retry-by-Choice) still layer.
    back: set[tuple[str, str]] = set()
    colour: dict[str, int] = {}
    order: list[str] = []

    def visit(n: str) -> None:
        stack = [(n, iter(succ[n]))]
        colour[n] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = 2
                order.append(node)
                stack.pop()
            elif colour.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in colour:
                colour[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))

    for n in [start, *names]:
        if n in succ and n not in colour:
            visit(n)
    rank = dict.fromkeys(names, 0)
    for node in reversed(order):  # topological order of the forward graph
        for nxt in succ[node]:
            if (node, nxt) not in back:
                rank[nxt] = max(rank[nxt], rank[node] + 1)
    return rank


def layout(definition: dict[str, Any]) -> Graph:
    """Place each state on a row by its longest distance from ``StartAt``; rows are centred."""
    states: dict[str, Any] = definition.get("States", {})
    names = list(states)
    start = definition.get("StartAt", names[0] if names else "")
    edges = [e for n in names for e in edges_of(n, states[n])]
    rank = _ranks(start, names, edges)
    # Breadth-first discovery order keeps the main path left of the error-handling states.
    seen: list[str] = []
    queue = deque([start])
    while queue:
        n = queue.popleft()
        if n in seen or n not in states:
            continue
        seen.append(n)
        queue.extend(e["target"] for e in edges if e["source"] == n and e["kind"] != "catch")
        queue.extend(e["target"] for e in edges if e["source"] == n and e["kind"] == "catch")
    seen += [n for n in names if n not in seen]
    # Error handlers (targets of a Catch) go right of their row, next to the gutter their edges use.
    caught = {e["target"] for e in edges if e["kind"] == "catch"}
    seen.sort(key=lambda n: n in caught)
    rows: dict[int, list[str]] = {}
    for n in seen:
        rows.setdefault(rank[n], []).append(n)
    widest = max((len(r) for r in rows.values()), default=1)
    inner = widest * NODE_W + (widest - 1) * GAP_X
    width = MARGIN * 2 + inner + GUTTER
    nodes: list[Node] = []
    for r, members in sorted(rows.items()):
        row_w = len(members) * NODE_W + (len(members) - 1) * GAP_X
        x0 = MARGIN + (inner - row_w) // 2
        for i, n in enumerate(members):
            st = states[n]
            nodes.append({"name": n, "type": st.get("Type", "Task"), "x": x0 + i * (NODE_W + GAP_X),
                          "y": MARGIN + r * (NODE_H + GAP_Y), "w": NODE_W, "h": NODE_H,
                          "terminal": st.get("Type") in ("Succeed", "Fail") or bool(st.get("End"))})
    height = MARGIN * 2 + (max(rows, default=0) + 1) * (NODE_H + GAP_Y) - GAP_Y
    return {"start": start, "nodes": nodes, "edges": edges, "width": width, "height": height,
            "gutter_x": MARGIN + inner + GUTTER // 2}
