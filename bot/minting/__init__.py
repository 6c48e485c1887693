"""The mint pipeline: intake, idempotency, batching, recovery. One entry point: MintService."""
