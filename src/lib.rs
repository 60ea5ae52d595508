//! mailrig library
