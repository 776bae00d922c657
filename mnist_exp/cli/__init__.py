"""Thin entry points, one module per command: parse, preflight, then hand over to a pipeline.

They import the pipelines (and so torch and Lightning) only once the input has been checked, so
`--help`, `--cfg`, shell completion and refusals stay fast.
"""
