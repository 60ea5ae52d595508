//! The munging rule engine (placeholder; being written).
