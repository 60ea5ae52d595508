//! Library behind the aux programs (placeholder; being written).
