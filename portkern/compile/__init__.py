"""Shared machinery of the compile backends (``backends/cuda``, ``backends/hip``).

driver: the compile flow every real-compiler backend shares (key, cache, scratch folder, entries,
occupancy); process: running a compiler and naming it; cache: the content-addressed result cache;
elf: reading symbols and sections of cubins and AMDGPU code objects; entries: mapping entry
expressions to binary symbols; occupancy: the record every vendor's occupancy rule returns;
parallel: many compiles at once, bounded by the cores. What a vendor's compiler prints and its
binaries hold is parsed in the vendor's own folder (``backends/cuda/cubin.py``,
``backends/hip/amdgpu.py``), as is its occupancy rule.
"""
