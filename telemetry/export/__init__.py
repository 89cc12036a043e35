"""Exporting a log as metrics: the file follower (tail), which files a glob names, the figures a
log says (state), and the HTTP exporter."""
