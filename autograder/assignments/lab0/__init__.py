"""lab0: scalar automatic differentiation (`scalargrad`), a second assignment on the same framework."""
