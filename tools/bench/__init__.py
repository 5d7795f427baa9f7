"""`make bench` (`python -m tools.bench --assignment NAME`): one table of the project's performance figures,
each beside its target; also written as JSON so figures can be compared over time.

Each module measures one thing: `worker` (the sandbox's cost), `gradcheck` (the gradient checker's),
`regrade` (class-wide throughput), `engine` (hw1p1's reference engine against plain numpy) and `budget`
(the worst handins: every student function looping, or correct but 20 times slower). Grading figures use
the assignment given, through its `Assignment` object, so they work for any assignment.
"""
