"""The engine layer: the engine loop, its config and flags, its observers (telemetry), and the
async/threaded wrapper the server drives. Import the submodules directly (`runtime.engine.engine`
pulls in torch; `runtime.engine.args` and `runtime.engine.config` stay light for `--help`)."""
