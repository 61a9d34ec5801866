"""Use cases of the analytics service: one async function per command or query."""
