"""Logs: structlog configuration and the text layout we write, and reading logs back (container
unwrapping, the parser for our and SGLang's lines, summary, plot)."""
