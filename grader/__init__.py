"""The course's autograder: `python -m grader --help`."""
