"""Module 2's demo, the figures of its lecture and the length-extrapolation experiment."""
