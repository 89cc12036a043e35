"""SGLang: its metric names across releases (catalog + sglang_metrics.tsv) and its log lines
(decode/prefill lines, leak messages)."""
