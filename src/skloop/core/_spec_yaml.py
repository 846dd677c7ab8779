"""The spec's YAML loader: PyYAML's safe loader, refusing what a spec never needs.

It refuses, while it composes and before anything big is built: anchors and aliases
that expand to more than :data:`MAX_EXPANDED_NODES` values (a "billion laughs" document
grows exponentially), an alias inside the node it names (a recursive document), and a
key given twice in one mapping (YAML would keep the last one silently). The full spec
(:mod:`skloop.core._spec_loader`) and its head (:mod:`skloop.core._spec_head`) read
YAML through it, so that they accept and refuse the same documents. No pydantic here.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_EXPANDED_NODES", "BoundedLoader", "Refused", "compose"]

MAX_EXPANDED_NODES = 100_000
"""Most values (scalars, lists, mappings) a spec may hold once its aliases are expanded."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class Refused(Exception):
    """A document the loader will not compose; ``parse_spec`` adds the file name."""

    def __init__(self, line: int, key: str, message: str) -> None:
        super().__init__(message)
        self.line, self.key, self.message = line, key, message


class BoundedLoader(yaml.SafeLoader):
    """A safe loader that counts the expanded size of every node as it composes it.

    An alias costs the expanded size of the node it names, so the count is what a walk
    of the finished tree would visit; it is checked as each node is finished, long
    before the exponential structure a walk (or pydantic) would build.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> expanded size, once composed

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            # types-PyYAML leaves peek_event unannotated; after check_event it is this alias
            event: yaml.AliasEvent = self.peek_event()  # type: ignore[no-untyped-call]
            target = self.anchors.get(event.anchor)
            if target is not None:  # an undefined alias is PyYAML's error to raise
                line = event.start_mark.line + 1 if event.start_mark is not None else 0  # the parser marks every event
                if id(target) not in self._sizes:  # named, not finished: the alias is inside its own anchor
                    raise Refused(
                        line,
                        f"*{event.anchor}",
                        f"line {line}: the alias *{event.anchor} is inside the node it names "
                        f"(&{event.anchor} at line {target.start_mark.line + 1}); a spec cannot be recursive, "
                        "write the value out",
                    )
        node = super().compose_node(parent, index)
        if node is not None and id(node) not in self._sizes:
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            size = 1 + sum(self._sizes[id(c)] for c in children)
            if size > MAX_EXPANDED_NODES:
                line = node.start_mark.line + 1
                raise Refused(
                    line,
                    "(aliases)",
                    f"line {line}: the value that starts here expands to more than {MAX_EXPANDED_NODES:,} "
                    "values through anchors and aliases; a spec needs far fewer: write them out or nest fewer aliases",
                )
            self._sizes[id(node)] = size
        return node

    # types-PyYAML types ``anchor`` as a dict; PyYAML passes the event's anchor name
    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:  # type: ignore[override]
        node = super().compose_mapping_node(anchor)  # type: ignore[arg-type]
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue  # merged keys (<<: *base) may be overridden, that is their point
            key = self.construct_object(key_node)  # "1" and "01" are the same int key
            line = key_node.start_mark.line + 1
            if key in first:
                raise Refused(
                    line,
                    str(key),
                    f"line {line}: the key {key!r} is given twice in one mapping (first at line {first[key]}); "
                    "YAML would keep only the last, so remove one",
                )
            first[key] = line
        return node


def compose(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data of ``text``, composed once."""
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        return node, (None if node is None else loader.construct_document(node))
    finally:
        loader.dispose()
