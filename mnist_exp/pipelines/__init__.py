"""The work itself, in three kinds, each a folder: `report/` reads finished runs back (torch-free),
`run/` trains, tests, evaluates or predicts once, `sweep/` runs many. Imports go report -> run ->
sweep only (tests/test_package.py's layer map)."""
