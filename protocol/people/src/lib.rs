//! People acting on workflows (placeholder).
