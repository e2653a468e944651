"""Runs started by alerts: alerts normalized from each source, which triggers match them, and
the id that makes each firing start at most one run."""
