"""Package layout: ``portkern/`` is the core and the top-level ``backends/`` installs as
``portkern.backends`` (one folder per vendor; data files such as emulator headers included)."""

from setuptools import find_namespace_packages, setup

_SKIP = ["*__pycache__*", "*.egg-info*"]
core = ["portkern"] + [f"portkern.{p}" for p in find_namespace_packages("portkern", exclude=_SKIP)]
backends = ["portkern.backends"] + [f"portkern.backends.{p}" for p in find_namespace_packages("backends", exclude=_SKIP)]

setup(packages=core + backends, package_dir={"portkern": "portkern", "portkern.backends": "backends"})
