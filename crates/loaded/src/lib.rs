//! The dlfunc test library (placeholder; being written).
