"""Gradient-boosted regression trees, small and dependency-free (numpy only).

Squared loss, depth-limited trees grown greedily over candidate thresholds at feature quantiles,
shrinkage, row subsampling with a fixed seed. Enough for the few thousand rows a run store holds, and
serialisable to JSON so a fitted model ships with the package and loads anywhere numpy does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class _Node:
    feature: int = -1            # -1: leaf
    threshold: float = 0.0
    left: int = -1
    right: int = -1
    value: float = 0.0


@dataclass
class Tree:
    nodes: list[_Node] = field(default_factory=list)

    def predict(self, X: np.ndarray) -> np.ndarray:
        out = np.empty(len(X))
        for i, row in enumerate(X):
            n = self.nodes[0]
            while n.feature >= 0:
                n = self.nodes[n.left] if row[n.feature] <= n.threshold else self.nodes[n.right]
            out[i] = n.value
        return out

    def to_list(self) -> list[list[float]]:
        return [[n.feature, n.threshold, n.left, n.right, n.value] for n in self.nodes]

    @classmethod
    def from_list(cls, rows: list[list[float]]) -> Tree:
        return cls([_Node(int(f), float(t), int(a), int(b), float(v)) for f, t, a, b, v in rows])


def _best_split(X: np.ndarray, r: np.ndarray, min_leaf: int, bins: int) -> tuple[int, float, float]:
    """(feature, threshold, gain) of the split that most reduces the squared error, or (-1, 0, 0).

    Thresholds are taken between distinct sorted values, at most ``bins`` per feature (at quantiles)."""
    n = len(r)
    best = (-1, 0.0, 0.0)
    total = r.sum()
    base = total * total / n
    for j in range(X.shape[1]):
        order = np.argsort(X[:, j], kind="stable")
        col, cs = X[order, j], np.cumsum(r[order])
        nl = np.arange(1, n)                               # left size when splitting after position i
        valid = (col[1:] > col[:-1]) & (nl >= min_leaf) & (n - nl >= min_leaf)
        if not valid.any():
            continue
        pos = np.flatnonzero(valid)
        if len(pos) > bins:
            pos = pos[np.unique(np.linspace(0, len(pos) - 1, bins).round().astype(int))]
        sl = cs[pos]
        left_n = pos + 1.0
        gain = sl * sl / left_n + (total - sl) ** 2 / (n - left_n) - base
        k = int(np.argmax(gain))
        if gain[k] > best[2] + 1e-12:
            i = pos[k]
            best = (j, float((col[i] + col[i + 1]) / 2.0), float(gain[k]))
    return best


def _grow(X: np.ndarray, r: np.ndarray, depth: int, min_leaf: int, bins: int, nodes: list[_Node]) -> int:
    idx = len(nodes)
    nodes.append(_Node(value=float(r.mean()) if len(r) else 0.0))
    if depth == 0 or len(r) < 2 * min_leaf:
        return idx
    j, t, gain = _best_split(X, r, min_leaf, bins)
    if j < 0:
        return idx
    mask = X[:, j] <= t
    nodes[idx].feature, nodes[idx].threshold = j, t
    nodes[idx].left = _grow(X[mask], r[mask], depth - 1, min_leaf, bins, nodes)
    nodes[idx].right = _grow(X[~mask], r[~mask], depth - 1, min_leaf, bins, nodes)
    return idx


@dataclass
class GradientBoosting:
    n_trees: int = 150
    depth: int = 3
    learning_rate: float = 0.08
    min_leaf: int = 4
    subsample: float = 0.8
    bins: int = 16
    seed: int = 0
    intercept: float = 0.0
    trees: list[Tree] = field(default_factory=list)

    def fit(self, X: np.ndarray, y: np.ndarray) -> GradientBoosting:
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        rng = np.random.default_rng(self.seed)
        self.intercept = float(y.mean()) if len(y) else 0.0
        pred = np.full(len(y), self.intercept)
        self.trees = []
        if len(y) < 2 * self.min_leaf:
            return self
        for _ in range(self.n_trees):
            rows = rng.random(len(y)) < self.subsample if self.subsample < 1 else np.ones(len(y), bool)
            if rows.sum() < 2 * self.min_leaf:
                rows[:] = True
            nodes: list[_Node] = []
            _grow(X[rows], (y - pred)[rows], self.depth, self.min_leaf, self.bins, nodes)
            tree = Tree(nodes)
            pred += self.learning_rate * tree.predict(X)
            self.trees.append(tree)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        out = np.full(len(X), self.intercept)
        for tree in self.trees:
            out += self.learning_rate * tree.predict(X)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"n_trees": self.n_trees, "depth": self.depth, "learning_rate": self.learning_rate,
                "min_leaf": self.min_leaf, "subsample": self.subsample, "bins": self.bins, "seed": self.seed,
                "intercept": self.intercept, "trees": [t.to_list() for t in self.trees]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GradientBoosting:
        trees = [Tree.from_list(t) for t in d.get("trees", [])]
        keys = ("n_trees", "depth", "learning_rate", "min_leaf", "subsample", "bins", "seed", "intercept")
        return cls(**{k: d[k] for k in keys if k in d}, trees=trees)
