"""The composed YAML node graph: each node's children, every node once, and RFC 6901
pointers to and from nodes (how the loader points a problem at ``file:line:col``).

With aliases the graph is a DAG, not a tree: a node may have several parents, so
walks remember what they have seen.
"""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tenant_migrator.problems import escape, unescape


def all_nodes(root: Node) -> list[Node]:
    """Every node of the graph once (with aliases a node has several parents)."""
    found: dict[int, Node] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in found:
            found[id(node)] = node
            stack.extend(children(node))
    return list(found.values())


def children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def walk(root: Node, pointer: str) -> tuple[Node, Node | None]:
    """Follow an RFC 6901 pointer through the node graph: (value node, its key node)."""
    node, key_node = root, None
    if not pointer:
        return node, None
    for raw in pointer.split("/")[1:]:
        segment = unescape(raw) if "~" in raw else raw
        if isinstance(node, MappingNode):
            # The last matching pair wins, as in the constructed mapping.
            for k, v in reversed(node.value):
                if k.value == segment and isinstance(k, ScalarNode):
                    key_node, node = k, v
                    break
            else:
                return node, key_node
        elif (
            isinstance(node, SequenceNode) and segment.isdigit() and int(segment) < len(node.value)
        ):
            key_node, node = None, node.value[int(segment)]
        else:
            return node, key_node
    return node, key_node


def node_paths(root: Node) -> dict[Node, str]:
    """RFC 6901 pointer of every node (keys get their mapping's pointer + key)."""
    paths: dict[Node, str] = {}
    stack: list[tuple[Node, str]] = [(root, "")]
    while stack:
        node, pointer = stack.pop()
        if node in paths:
            continue
        paths[node] = pointer
        if isinstance(node, MappingNode):
            for k, v in node.value:
                child = pointer + "/" + escape(k.value if isinstance(k, ScalarNode) else "?")
                paths.setdefault(k, child)
                stack.append((v, child))
        elif isinstance(node, SequenceNode):
            for index, v in enumerate(node.value):
                stack.append((v, f"{pointer}/{index}"))
    return paths
