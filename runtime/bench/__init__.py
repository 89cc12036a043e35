"""Benchmarks behind `poolscope bench`: each prints a table and writes JSON; none is a test."""
