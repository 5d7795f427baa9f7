"""Example submissions (the sample handin `make grade` grades) and the script that makes them."""
