"""Benchmarks comparing tapegrad with its peers (see ``workloads.md`` in the shared folder).

Run ``python -m benchmarks.run --help``; each framework is timed in its own process by
:mod:`benchmarks.worker`, with the shared timing rules of :mod:`benchmarks.harness`.
"""
