"""Module 1's demo and the figures of its lecture."""
