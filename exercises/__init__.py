"""Your solutions: implement the stubs, then run `make grade` (see README.md)."""
