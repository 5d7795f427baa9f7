"""hw1p1: students write the backward passes and the graph traversal of `mytorch`."""
