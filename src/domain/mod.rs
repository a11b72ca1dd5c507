//! Types and rules with no I/O.

pub mod country;
pub mod membership;
pub mod paging;
pub mod plans;
pub mod timestamp;
pub mod validate;

pub use timestamp::{Clock, Timestamp};
