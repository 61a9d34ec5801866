"""Use cases of the customers service: one async function per command."""
