//! JumpCloud API simulator.
