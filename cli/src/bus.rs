//! Bus settings shared by `outpost broker` and `outpost worker`.

use anyhow::Context;
use outpost_bus::amqp::{AmqpBus, AmqpConfig};
use outpost_proto::topology::{DEFAULT_DELIVERY_LIMIT, DEFAULT_PREFIX, Topology};

#[derive(Debug, clap::Args)]
pub struct BusArgs {
    /// RabbitMQ, e.g. `amqp://user@host:5672/%2f` or `amqps://...`. Prefer the env twin
    /// when the URL holds a password.
    #[arg(long, env = "OUTPOST_AMQP_URL", default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    pub amqp_url: String,
    /// Prefix of every exchange and queue name; installations sharing a RabbitMQ differ here.
    #[arg(long, env = "OUTPOST_AMQP_PREFIX", default_value = DEFAULT_PREFIX)]
    pub amqp_prefix: String,
    /// Deliveries of one task before it is dead-lettered and recorded as failed. Give the
    /// broker and its workers the same: whoever declares a segment's queue first fixes
    /// it, and a process with another value logs an error and uses the queue as it is.
    #[arg(long, env = "OUTPOST_DELIVERY_LIMIT", default_value_t = DEFAULT_DELIVERY_LIMIT)]
    pub delivery_limit: u32,
}

/// A RabbitMQ bus that connects in the background (see [`AmqpBus::start`]): a process
/// started before RabbitMQ is reachable waits for it instead of exiting, and logs each
/// failed attempt.
pub fn start_bus(args: &BusArgs) -> anyhow::Result<AmqpBus> {
    let topology = Topology { prefix: args.amqp_prefix.clone(), delivery_limit: args.delivery_limit.max(1) };
    AmqpBus::start(AmqpConfig::new(args.amqp_url.clone(), topology))
        .with_context(|| format!("RabbitMQ at {}", redact(&args.amqp_url)))
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(super::redact("amqp://guest:guest@h:5672/%2f"), "amqp://guest:***@h:5672/%2f");
        assert_eq!(super::redact("amqp://h:5672"), "amqp://h:5672");
    }
}
