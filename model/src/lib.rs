//! Stateright models (in progress).
