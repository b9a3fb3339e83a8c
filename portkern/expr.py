"""Safe arithmetic expressions used in library.yaml (shapes, launch config, bytes, FLOPs).

Only numbers, names, + - * / // % **, comparisons, ``a if c else b`` and a few functions are
allowed. ``sizeof(T)`` gives the element size of the kernel's dtype.

Evaluation is bounded: expressions longer than MAX_EXPR_CHARS or nested deeper than MAX_DEPTH are
refused, and every intermediate integer must fit in MAX_INT_BITS bits, so ``n ** n ** n`` fails
at once instead of hanging. Every failure (division by zero included) is an ExprError.
"""

from __future__ import annotations

import ast
import math
import threading
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


MAX_EXPR_CHARS = 2000
MAX_DEPTH = 64
MAX_INT_BITS = 256


class ExprError(ValueError):
    pass


def _bounded(value: Any, text: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ExprError(f"expression {_short(text)} produces an integer wider than {MAX_INT_BITS} bits")
    if isinstance(value, float) and value != value:
        raise ExprError(f"expression {_short(text)} is not a number (NaN)")
    return value


def _short(text: Any) -> str:
    shown = repr(text)
    return shown if len(shown) <= 80 else shown[:77] + "...'"


def _pow(a: Any, b: Any, text: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and not isinstance(b, bool) and b > 0:
        if abs(a) > 1 and (abs(a).bit_length() - 1) * b > MAX_INT_BITS:
            raise ExprError(f"expression {_short(text)}: {a} ** {b} is wider than {MAX_INT_BITS} bits")
    elif isinstance(b, (int, float)) and isinstance(a, (int, float)) and abs(b) > 4096:
        raise ExprError(f"expression {_short(text)}: exponent {b} is out of range")
    return a ** b


# CPython 3.11 keeps the AST constructor's recursion depth in state shared by every thread: two
# threads parsing at once can fail with "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905). Validation and timing evaluate manifest expressions from several threads.
_AST_LOCK = threading.Lock()


def parse_python(source: str, mode: str = "exec") -> ast.AST:
    """``ast.parse``, one thread at a time."""
    with _AST_LOCK:
        return ast.parse(source, mode=mode)


def parse(text: str | int | float) -> ast.Expression:
    source = str(text).strip()
    if len(source) > MAX_EXPR_CHARS:
        raise ExprError(f"expression {_short(text)} is longer than {MAX_EXPR_CHARS} characters")
    if source.count("(") > MAX_DEPTH or source.count("**") > MAX_DEPTH:
        raise ExprError(f"expression {_short(text)} is nested too deeply")
    try:
        tree = parse_python(source, mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"cannot parse expression {_short(text)}: {exc.msg}") from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExprError(f"cannot parse expression {_short(text)}: {type(exc).__name__}") from None
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
    try:
        return _evaluate(tree, text, env, elem_bytes)
    except ExprError:
        raise
    except RecursionError:
        raise ExprError(f"expression {_short(text)} is nested too deeply") from None
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise ExprError(f"expression {_short(text)} does not evaluate: {type(exc).__name__}: {exc}") from None


def _evaluate(tree: ast.Expression, text: Any, env: Mapping[str, Any], elem_bytes: int) -> Any:
    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)) or isinstance(node.value, complex):
                raise ExprError(f"expression {_short(text)} holds a {type(node.value).__name__} constant")
            return _bounded(node.value, text)
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise ExprError(f"unknown name '{node.id}' in expression {_short(text)}")
            return _bounded(env[node.id], text)
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else +v
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            op = node.op
            if isinstance(op, ast.Add):
                return _bounded(a + b, text)
            if isinstance(op, ast.Sub):
                return _bounded(a - b, text)
            if isinstance(op, ast.Mult):
                if isinstance(a, str) or isinstance(b, str):
                    raise ExprError(f"expression {_short(text)} multiplies a string")
                return _bounded(a * b, text)
            if isinstance(op, ast.Div):
                return _bounded(a / b, text)
            if isinstance(op, ast.FloorDiv):
                return _bounded(a // b, text)
            if isinstance(op, ast.Mod):
                return _bounded(a % b, text)
            return _bounded(_pow(a, b, text), text)
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
            return _bounded(FUNCTIONS[fname](*[ev(a) for a in node.args]), text)
        raise ExprError(f"unsupported node in {text!r}")

    return ev(tree)
