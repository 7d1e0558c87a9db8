//! The regions the simulator serves. Its own type, not the operator's: the operator depends on
//! this crate, so this crate cannot depend on the operator. The operator converts its `Region`
//! to and from this one (`From` impls in the operator's `region` module).

use std::fmt;

/// A JumpCloud region: one listener, one org and one set of keys each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    Us,
    Eu,
    In,
}

impl Region {
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
            Region::In => "in",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
