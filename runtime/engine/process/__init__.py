"""The engine in its own process: the child's loop (`core`), the parent's `EngineClient`
(`client`), and the messages between them (`messages`)."""
