"""Hand the course out: nbgrader assignments and a Gradescope autograder, built from the one
source (`reference/` for the exercises, `grader/` for the checks)."""
