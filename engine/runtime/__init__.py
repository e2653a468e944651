"""The runtime: drives the core's commands, calls actions in a bounded thread pool, owns
retries, timeouts, parallel fan-out, cancellation and locks."""
