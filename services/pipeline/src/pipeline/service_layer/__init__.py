"""Use cases: one async function per command, taking its ports as parameters."""
