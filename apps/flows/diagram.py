"""A flow graph laid out for the editor's diagram (server-rendered SVG): nodes in rows by their
distance from the start, edges as curves, each node with its visits and drop-offs."""

from dataclasses import dataclass

from apps.flows.graph import edges

NODE_WIDTH, NODE_HEIGHT = 168, 56
COLUMN_GAP, ROW_GAP = 32, 56
MARGIN = 16


@dataclass
class Box:
    id: str
    type: str
    x: int
    y: int
    visits: int
    drop_offs: int
    is_start: bool

    @property
    def cx(self) -> int:
        return self.x + NODE_WIDTH // 2


@dataclass
class Line:
    path: str
    label: str
    label_x: int
    label_y: int
    error: bool


@dataclass
class Diagram:
    width: int
    height: int
    boxes: list[Box]
    lines: list[Line]
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT


def _label(node: dict, key: str) -> str:
    if key.startswith("options."):
        index = int(key.split(".")[1])
        return str(node["options"][index].get("label", ""))[:18]
    if key.startswith("branches."):
        return f"#{int(key.split('.')[1]) + 1}"
    return "" if key == "next" else key


def layout(graph: dict, stats: dict | None = None) -> Diagram | None:
    """None for a graph that cannot be drawn (no nodes)."""
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    if not isinstance(nodes, dict) or not nodes:
        return None
    valid = {key: node for key, node in nodes.items() if isinstance(node, dict)}
    start = graph.get("start") if graph.get("start") in valid else next(iter(valid))
    depth = {start: 0}
    queue = [start]
    while queue:
        current = queue.pop(0)
        for _key, target, _defines in edges(valid[current]):
            if target in valid and target not in depth:
                depth[target] = depth[current] + 1
                queue.append(target)
    bottom = max(depth.values()) + 1
    for key in valid:
        depth.setdefault(key, bottom)  # unreachable nodes on a last row
    rows: dict[int, list[str]] = {}
    for key in valid:
        rows.setdefault(depth[key], []).append(key)
    widest = max(len(row) for row in rows.values())
    width = MARGIN * 2 + widest * NODE_WIDTH + (widest - 1) * COLUMN_GAP + 2 * COLUMN_GAP  # back edges
    stats = stats or {}
    boxes = {}
    for level, keys in sorted(rows.items()):
        row_width = len(keys) * NODE_WIDTH + (len(keys) - 1) * COLUMN_GAP
        left = (width - row_width) // 2
        for index, key in enumerate(keys):
            figures = stats.get(key, {})
            boxes[key] = Box(
                id=key, type=str(valid[key].get("type", "?")), x=left + index * (NODE_WIDTH + COLUMN_GAP),
                y=MARGIN + level * (NODE_HEIGHT + ROW_GAP), visits=figures.get("visits", 0),
                drop_offs=figures.get("drop_offs", 0), is_start=key == start,
            )
    lines = []
    for key, node in valid.items():
        for edge_key, target, _defines in edges(node):
            if target not in boxes:
                continue
            lines.append(_line(boxes[key], boxes[target], _label(node, edge_key), edge_key == "error"))
    height = MARGIN * 2 + (max(rows) + 1) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    return Diagram(width=width, height=height, boxes=list(boxes.values()), lines=lines)


def _line(source: Box, target: Box, label: str, error: bool) -> Line:
    x1, y1 = source.cx, source.y + NODE_HEIGHT
    if target.y > source.y:
        x2, y2 = target.cx, target.y
        middle = (y1 + y2) // 2
        path = f"M{x1},{y1} C{x1},{middle} {x2},{middle} {x2},{y2}"
        return Line(path, label, (x1 + x2) // 2, middle - 4, error)
    # Back (or sideways) to an earlier row: around the right of both boxes.
    x2, y2 = target.x + NODE_WIDTH, target.y + NODE_HEIGHT // 2
    bend = max(source.x, target.x) + NODE_WIDTH + COLUMN_GAP
    path = f"M{x1},{y1} C{x1},{y1 + ROW_GAP // 2} {bend},{y1 + ROW_GAP // 2} {bend},{(y1 + y2) // 2} " \
           f"S{x2 + COLUMN_GAP // 2},{y2} {x2},{y2}"
    return Line(path, label, bend - 4, (y1 + y2) // 2, error)
