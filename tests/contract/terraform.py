"""A small reader of Terraform configuration, for the contract tests.

It parses the root module with python-hcl2 and resolves the expressions the contract needs:
literals, `var.*` (defaults and a tfvars file), `local.*`, `each.*` and dynamic-block
iterators, references to resource instances, and the `toset`/`tolist`/`tostring` wrappers.
Anything else raises `Unresolved`, so a construct it does not understand fails a test instead
of passing silently. It is not an evaluator of Terraform: it never calls functions.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hcl2

_OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, with_comments=False, explicit_blocks=False
)


def parse(text: str) -> dict[str, Any]:
    return hcl2.loads(text, serialization_options=_OPTIONS)


class Unresolved(Exception):
    """An expression outside the subset this reader resolves."""


@dataclass(frozen=True)
class Ref:
    """A reference to an attribute of a resource instance: `type.name[key].attr`."""

    type: str
    name: str
    key: str | None
    attr: str

    @property
    def address(self) -> tuple[str, str, str | None]:
        return (self.type, self.name, self.key)


@dataclass(frozen=True)
class Template:
    """An interpolated string: literal text and resolved values, in order."""

    parts: tuple[Any, ...]


@dataclass
class Instance:
    """One instance of a resource block (one `for_each` element, or the only one)."""

    type: str
    name: str
    key: str | None
    body: dict[str, Any]
    scope: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> tuple[str, str, str | None]:
        return (self.type, self.name, self.key)


_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
_WRAPPER = re.compile(r"^(toset|tolist|tostring)\((.*)\)$", re.S)
_ROOT = re.compile(r"[A-Za-z_][\w-]*")
_STEP = re.compile(
    r'\.(?P<attr>[A-Za-z_][\w-]*)|\[\s*"(?P<key>[^"]*)"\s*\]|\[\s*(?P<index>\d+)\s*\]'
    r"|\[\s*(?P<expr>[A-Za-z_][\w.-]*)\s*\]"
)


class Config:
    """The parsed Terraform root module with one set of variable values."""

    def __init__(self, documents: list[dict[str, Any]], values: dict[str, Any]) -> None:
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}
        self.locals: dict[str, Any] = {}
        self.variables: dict[str, Any] = {}
        for doc in documents:
            for block in doc.get("resource", []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        self.resources[(rtype, name)] = body
            for block in doc.get("locals", []):
                self.locals.update(block)
            for block in doc.get("variable", []):
                for name, body in block.items():
                    if "default" in body:
                        self.variables[name] = body["default"]
        self.variables.update(values)

    def copy(self) -> Config:
        return copy.deepcopy(self)

    # --- expressions ---------------------------------------------------------------------

    def eval(self, value: Any, scope: dict[str, Any] | None = None) -> Any:
        scope = scope or {}
        if isinstance(value, dict):
            return {k: self.eval(v, scope) for k, v in value.items()}
        if isinstance(value, list):
            return [self.eval(v, scope) for v in value]
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = _INTERPOLATION.fullmatch(value)
        if whole:
            return self._expression(whole.group(1).strip(), scope)
        pieces = _INTERPOLATION.split(value)  # text, expr, text, expr, ..., text
        if any("${" in text for text in pieces[::2]):
            raise Unresolved(value)
        parts = [
            piece if i % 2 == 0 else self._expression(piece.strip(), scope)
            for i, piece in enumerate(pieces)
        ]
        return Template(tuple(part for part in parts if part != ""))

    def _expression(self, expr: str, scope: dict[str, Any]) -> Any:
        wrapper = _WRAPPER.match(expr)
        if wrapper:
            inner = self._expression(wrapper.group(2).strip(), scope)
            return str(inner) if wrapper.group(1) == "tostring" else inner
        if expr.startswith("["):
            return self._literal_list(expr)
        root, steps = self._path(expr)
        if root in scope:
            return self._walk(scope[root], steps, scope)
        if root in {"var", "local"}:
            value = self._named(root, self._attr(steps.pop(0), expr))
            return self._walk(value, steps, scope)
        if root in {"each", "self", "count", "path", "module", "terraform"}:
            raise Unresolved(expr)
        return self._reference(expr, root, steps, scope)

    def _named(self, root: str, name: str) -> Any:
        if root == "local":
            return self.eval(self.locals[name])
        if name not in self.variables:
            return f"<var.{name}>"  # required, and not set by this tfvars file
        return self.eval(self.variables[name])

    @staticmethod
    def _literal_list(expr: str) -> Any:
        try:
            return json.loads(expr)
        except json.JSONDecodeError as exc:
            raise Unresolved(expr) from exc

    def _reference(
        self, expr: str, root: str, steps: list[tuple[str, str]], scope: dict[str, Any]
    ) -> Ref:
        rtype = f"data.{self._attr(steps.pop(0), expr)}" if root == "data" else root
        name = self._attr(steps.pop(0), expr)
        key = None
        if steps and steps[0][0] != "attr":
            key = str(self._walk(None, [steps.pop(0)], scope, as_key=True))
        attr = "".join(f".{v}" if k == "attr" else f"[{v}]" for k, v in steps).lstrip(".")
        return Ref(rtype, name, key, attr)

    def _path(self, expr: str) -> tuple[str, list[tuple[str, str]]]:
        root = _ROOT.match(expr)
        if not root:
            raise Unresolved(expr)
        steps, pos = [], root.end()
        while pos < len(expr):
            step = _STEP.match(expr, pos)
            if not step:
                raise Unresolved(expr)
            kind = step.lastgroup
            assert kind is not None
            steps.append((kind, step.group(kind)))
            pos = step.end()
        return root.group(), steps

    @staticmethod
    def _attr(step: tuple[str, str], expr: str) -> str:
        if step[0] != "attr":
            raise Unresolved(expr)
        return step[1]

    def _walk(
        self, value: Any, steps: list[tuple[str, str]], scope: dict[str, Any], as_key: bool = False
    ) -> Any:
        for kind, raw in steps:
            index: Any = int(raw) if kind == "index" else raw
            if kind == "expr":
                index = self._expression(raw, scope)
            value = index if as_key else value[index]
        return value

    # --- resources -----------------------------------------------------------------------

    def instances(self, rtype: str) -> Iterator[Instance]:
        for (t, name), body in self.resources.items():
            if t != rtype:
                continue
            if "for_each" not in body:
                yield Instance(t, name, None, body)
                continue
            each = self.eval(body["for_each"])
            items = each.items() if isinstance(each, dict) else ((v, v) for v in each)
            for key, value in items:
                yield Instance(t, name, str(key), body, {"each": {"key": key, "value": value}})

    def instance(self, ref: Ref) -> Instance:
        for inst in self.instances(ref.type):
            if inst.address == ref.address:
                return inst
        raise KeyError(f"no resource instance {ref}")

    def get(self, inst: Instance, *path: str | int) -> Any:
        value: Any = inst.body
        for step in path:
            value = value[step]
        return self.eval(value, inst.scope)

    def blocks(self, inst: Instance, body: dict[str, Any], name: str) -> Iterator[dict[str, Any]]:
        """Nested blocks `name` of `body`, static and dynamic, evaluated in `inst`'s scope."""
        for block in body.get(name, []):
            yield self.eval(block, inst.scope)
        for dynamic in body.get("dynamic", []):
            if name not in dynamic:
                continue
            spec = dynamic[name]
            each = self.eval(spec["for_each"], inst.scope)
            items = each.items() if isinstance(each, dict) else ((v, v) for v in each)
            for key, value in items:
                scope = {**inst.scope, name: {"key": key, "value": value}}
                yield self.eval(spec["content"][0], scope)
