"""Ingest: parse a library tree (HIP or CUDA) into a catalog of kernels and self-contained units.

    from portkern.ingest import ingest_library, ingest_tree
    catalog = ingest_library(load_library("blas"))
    catalog.kernel("axpy_kernel").launch_sites
    print(catalog.unit("axpy_kernel").source)
"""

from __future__ import annotations

from portkern.ingest.build import ingest_library, ingest_tree
from portkern.ingest.model import (
    Instantiation,
    IntrinsicSummary,
    Kernel,
    KernelCatalog,
    KernelUnit,
    LaunchSite,
    Param,
    SharedDecl,
    SkippedRegion,
    TemplateParam,
)

__all__ = ["ingest_library", "ingest_tree", "Instantiation", "IntrinsicSummary", "Kernel", "KernelCatalog",
           "KernelUnit", "LaunchSite", "Param", "SharedDecl", "SkippedRegion", "TemplateParam"]
