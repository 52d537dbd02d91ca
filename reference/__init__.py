"""Reference solutions of the course."""
