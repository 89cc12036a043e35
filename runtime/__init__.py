"""poolscope runtime: model code, memory pools, scheduler, engine, server and the CLI."""
