"""Wrong topological sorts students write, as replacements of the reference's Task 1.1 fence body.

Each one is right on some graphs (most pass the hand-made public graphs); the random-graph checks
(tests/public/graph_checks.py) must catch every one. Used by tests/test_traversal_bugs.py.
"""

from __future__ import annotations

# Iterative DFS that marks a node visited when it is PUSHED: on y = t + t*t it can finish t
# (post-order) before t*t, which uses t, has even been entered.
VISITED_ON_PUSH = """    order: list[Tensor] = []
    visited: set[int] = {id(root)}
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        stack.append((node, True))
        if node.grad_fn is not None:
            for p in node.grad_fn.inputs:
                if p.requires_grad and id(p) not in visited:
                    visited.add(id(p))
                    stack.append((p, False))
    order.reverse()
    return order
"""

# Marked visited when popped, but a node pushed twice before its first pop is expanded twice.
VISITED_ON_POP_NO_RECHECK = """    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node.grad_fn is not None:
            stack.extend((p, False) for p in node.grad_fn.inputs if p.requires_grad and id(p) not in visited)
    order.reverse()
    return order
"""

# Breadth-first from the root: a node reached early by a short path comes before a consumer on a long one.
BFS_ORDER = """    from collections import deque

    order: list[Tensor] = []
    visited: set[int] = {id(root)}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        order.append(node)
        if node.grad_fn is not None:
            for p in node.grad_fn.inputs:
                if p.requires_grad and id(p) not in visited:
                    visited.add(id(p))
                    queue.append(p)
    return order
"""

# Post-order emitted once the FIRST input's subtree is done; later inputs are explored afterwards.
FIRST_PATH_POSTORDER = """    order: list[Tensor] = []
    visited: set[int] = {id(root)}
    stack: list[tuple[Tensor, int]] = [(root, 0)]
    while stack:
        node, i = stack.pop()
        parents = [p for p in node.grad_fn.inputs if p.requires_grad] if node.grad_fn is not None else []
        if i == min(1, len(parents)):
            order.append(node)  # after the first path only
        if i < len(parents):
            stack.append((node, i + 1))
            if id(parents[i]) not in visited:
                visited.add(id(parents[i]))
                stack.append((parents[i], 0))
    order.reverse()
    return order
"""

# Kahn's algorithm whose in-degree counts each consumer once, while the release loop decrements once
# per edge: for t*t, t is released as soon as that one consumer is processed, before any other.
KAHN_WRONG_INDEGREE = """    consumers: dict[int, set[int]] = {}
    seen = {id(root)}
    todo = [root]
    while todo:
        node = todo.pop()
        if node.grad_fn is None:
            continue
        for p in node.grad_fn.inputs:
            if p.requires_grad:
                consumers.setdefault(id(p), set()).add(id(node))
                if id(p) not in seen:
                    seen.add(id(p))
                    todo.append(p)
    indegree = {k: len(v) for k, v in consumers.items()}
    order: list[Tensor] = []
    ready = [root]
    while ready:
        node = ready.pop()
        order.append(node)
        if node.grad_fn is None:
            continue
        for p in node.grad_fn.inputs:
            if p.requires_grad:
                indegree[id(p)] -= 1
                if indegree[id(p)] == 0:
                    ready.append(p)
    return order
"""

TRAVERSAL_BUGS = {
    "visited_on_push": VISITED_ON_PUSH,
    "visited_on_pop_without_recheck": VISITED_ON_POP_NO_RECHECK,
    "bfs_order": BFS_ORDER,
    "first_path_postorder": FIRST_PATH_POSTORDER,
    "kahn_wrong_indegree": KAHN_WRONG_INDEGREE,
}
