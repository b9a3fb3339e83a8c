"""Safe arithmetic expressions used in library.yaml (shapes, launch config, bytes, FLOPs).

Only numbers, names, + - * / // % **, comparisons, ``a if c else b`` and a few functions are
allowed. ``sizeof(T)`` gives the element size of the kernel's dtype.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from typing import Any

FUNCTIONS = {
    "ceil_div": lambda a, b: -(-int(a) // int(b)),
    "min": min,
    "max": max,
    "log2": math.log2,
    "sqrt": math.sqrt,
    "abs": abs,
    "int": int,
}

_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call,
            ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub, ast.UAdd,
            ast.Compare, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq, ast.IfExp,
            ast.BoolOp, ast.And, ast.Or)


class ExprError(ValueError):
    pass


def parse(text: str | int | float) -> ast.Expression:
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"cannot parse expression {text!r}: {exc.msg}") from exc
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExprError(f"expression {text!r} uses {type(node).__name__}, which is not allowed")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or (node.func.id not in FUNCTIONS and node.func.id != "sizeof"):
                raise ExprError(f"expression {text!r} calls an unknown function; allowed: "
                                f"{', '.join(sorted(FUNCTIONS))}, sizeof")
    return tree


def names(text: str | int | float) -> set[str]:
    """Free names of an expression (function names and sizeof's argument excluded)."""
    tree = parse(text)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            skip.add(id(node.func))
            if isinstance(node.func, ast.Name) and node.func.id == "sizeof":
                skip.update(id(a) for a in node.args)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in skip}


def evaluate(text: str | int | float, env: Mapping[str, Any], elem_bytes: int = 4) -> Any:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return text
    tree = parse(text)

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise ExprError(f"unknown name '{node.id}' in expression {text!r}")
            return env[node.id]
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else +v
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            op = node.op
            if isinstance(op, ast.Add):
                return a + b
            if isinstance(op, ast.Sub):
                return a - b
            if isinstance(op, ast.Mult):
                return a * b
            if isinstance(op, ast.Div):
                return a / b
            if isinstance(op, ast.FloorDiv):
                return a // b
            if isinstance(op, ast.Mod):
                return a % b
            return a ** b
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, comp in zip(node.ops, node.comparators):
                right = ev(comp)
                ok = {ast.Lt: left < right, ast.LtE: left <= right, ast.Gt: left > right,
                      ast.GtE: left >= right, ast.Eq: left == right, ast.NotEq: left != right}[type(op)]
                if not ok:
                    return False
                left = right
            return True
        if isinstance(node, ast.BoolOp):
            vals = [ev(v) for v in node.values]
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        if isinstance(node, ast.Call):
            fname = node.func.id  # type: ignore[attr-defined]
            if fname == "sizeof":
                return elem_bytes
            return FUNCTIONS[fname](*[ev(a) for a in node.args])
        raise ExprError(f"unsupported node in {text!r}")

    return ev(tree)
