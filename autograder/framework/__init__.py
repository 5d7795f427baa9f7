"""The generic grading framework: nothing in here knows about a particular assignment."""
