"""Shared machinery of the compile backends (``backends/cuda``, ``backends/hip``).

process: running a compiler and naming it; cache: the content-addressed result cache;
elf: reading symbols and sections of cubins and AMDGPU code objects; demangle: mapping entry
expressions to binary symbols; occupancy: theoretical occupancy from a target's limits;
ptxas / amdgpu_asm: resource reports and instruction mixes parsed from compiler output;
parallel: many compiles at once, bounded by the cores.
"""
