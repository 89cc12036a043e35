"""Kubernetes manifests and long-term-store configuration generated from the dashboards' builders
(`poolscope deploy build` writes them under deploy/)."""
