//! The built-in scaler (DESIGN.md §6): collect signals, [`policy::decide`], actuate,
//! record. The policy is a pure function, replayed offline by [`simulate`].

pub mod actuator;
pub mod controller;
pub mod policy;
pub mod simulate;
