//! The names of everything Outpost declares on the bus.
//!
//! Every name starts with a configurable prefix (default `outpost`) so that several
//! installations, or several test runs, share one RabbitMQ without seeing each other.
//!
//! | name | kind | purpose |
//! | --- | --- | --- |
//! | `<p>.tasks` | direct exchange | routes a task by segment |
//! | `<p>.tasks.<segment>` | quorum queue | tasks for workers of one segment |
//! | `<p>.results` | quorum queue | results and progress from every worker |
//! | `<p>.dlx` | fanout exchange | where task queues dead-letter |
//! | `<p>.dead` | quorum queue | dead-lettered tasks, consumed by the broker |
//! | `<p>.control` | fanout exchange | broadcasts (cancel) to every worker |
//! | `<p>.heartbeats` | fanout exchange | worker heartbeats |
//!
//! It also holds the limits the bus puts on a task: how often it is delivered
//! ([`DEFAULT_DELIVERY_LIMIT`]) and how long it may run ([`MAX_TASK_TIMEOUT_SECS`]).

/// Default prefix of every exchange and queue name.
pub const DEFAULT_PREFIX: &str = "outpost";

/// Default number of deliveries of one task before it is dead-lettered.
pub const DEFAULT_DELIVERY_LIMIT: u32 = 5;

/// The longest deadline one parameter set may have, in seconds. It stays below
/// RabbitMQ's 30-minute consumer timeout, past which RabbitMQ closes the channel of a
/// worker still holding the task unacked, and the task would run again elsewhere.
pub const MAX_TASK_TIMEOUT_SECS: u32 = 30 * 60 - 1;

/// The segment of assets not bound to an automation broker.
pub const DEFAULT_SEGMENT: &str = "default";

/// Names of the exchanges and queues of one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Prepended to every name; lets installations and test runs share a RabbitMQ.
    pub prefix: String,
    /// Deliveries of one task before RabbitMQ dead-letters it.
    pub delivery_limit: u32,
}

impl Default for Topology {
    fn default() -> Self {
        Topology { prefix: DEFAULT_PREFIX.to_string(), delivery_limit: DEFAULT_DELIVERY_LIMIT }
    }
}

impl Topology {
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Topology { prefix: prefix.into(), ..Default::default() }
    }
    pub fn tasks_exchange(&self) -> String {
        format!("{}.tasks", self.prefix)
    }
    pub fn task_queue(&self, segment: &str) -> String {
        format!("{}.tasks.{segment}", self.prefix)
    }
    pub fn results_queue(&self) -> String {
        format!("{}.results", self.prefix)
    }
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.prefix)
    }
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    pub fn control_exchange(&self) -> String {
        format!("{}.control", self.prefix)
    }
    pub fn heartbeat_exchange(&self) -> String {
        format!("{}.heartbeats", self.prefix)
    }
}

/// Whether a segment name is acceptable: it becomes part of a queue name and a
/// routing key, so keep it to a conservative alphabet.
pub fn valid_segment(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix() {
        let t = Topology::with_prefix("t42");
        assert_eq!(t.task_queue("dmz"), "t42.tasks.dmz");
        assert_eq!(t.results_queue(), "t42.results");
        assert_eq!(t.delivery_limit, 5);
    }

    #[test]
    fn segment_names_are_restricted() {
        assert!(valid_segment("dmz"));
        assert!(valid_segment("site-2_a"));
        assert!(!valid_segment(""));
        assert!(!valid_segment("a.b"));
        assert!(!valid_segment("a b"));
        assert!(!valid_segment(&"x".repeat(65)));
    }
}
