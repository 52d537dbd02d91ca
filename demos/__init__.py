"""The course's demos, experiments, benchmarks and figure scripts, one copy of each.

Each runs on any implementation of the exercises (``--target exercises|reference|DIR``);
``python -m demos`` lists them. Grouped by the module whose lecture they illustrate.
"""
