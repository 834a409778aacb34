//! Who may do what, and the record of what they did: authentication, the permission
//! table, the audit trail and the broker's keys.
//!
//! # Layout
//! - [`auth`]: users, passwords and tokens; sign-in throttling.
//! - [`permissions`]: the one table of who may call which REST route and gRPC method.
//! - [`audit`]: the audit trail (seed 002) and its retention.
//! - [`keys`]: the store and bus keys.

pub mod audit;
pub mod auth;
pub mod keys;
pub mod permissions;
