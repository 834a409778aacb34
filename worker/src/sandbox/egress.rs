//! Outgoing HTTP for connectors: which requests an asset allows, where they may land,
//! and how they are sent.
//!
//! A connector reaches the network only through `wasi:http/outgoing-handler`. Every
//! request it makes arrives in [`EgressHooks::send_request`], which
//! 1. matches the request's scheme, host and port against the asset's egress patterns
//!    (`scheme://host[:port]`, see [`policy`]); no match is a denial;
//! 2. resolves the host itself and refuses addresses a connector must never reach
//!    (loopback, private, link-local, metadata, ...; see [`address`]) unless
//!    the worker explicitly allows their range ([`EgressConfig::allow_cidrs`]);
//! 3. connects to the checked address (never to the name again, so a second DNS answer
//!    cannot swap in another address), speaks TLS with SNI = the host name for https,
//!    with clamped timeouts (the connect timeout is one budget for resolving,
//!    connecting and the handshake) and a capped response body.
//!
//! `wasi:http` does not follow redirects: a connector that follows a `Location` header
//! makes a new request, which passes through all of the above again. So a redirect to
//! a forbidden host or address is denied like any other request.
//!
//! Every request, allowed or not, is recorded in the run's [`Journal`] and logged.
//!
//! # Layout
//! - [`policy`]: the asset's egress patterns, and hosts as a URL names them.
//! - [`address`]: where a host resolves, and which addresses a connector may never reach.
//! - [`journal`]: the per-run record of every request, and the run's egress state.
//! - [`transport`]: sending an allowed request: connect, TLS, timeouts, the body cap.
//! - [`tape`]: HTTP record and replay at the transport boundary (`outpost app test`).

mod address;
mod journal;
mod policy;
pub mod tape;
mod transport;

use std::time::Duration;

use ipnet::IpNet;
use rustls::pki_types::CertificateDer;

pub use journal::{EgressRun, Journal};
pub use transport::{EgressHooks, EgressNet};

/// Outgoing-HTTP settings of one worker, the same for every asset it serves.
#[derive(Clone, Debug)]
pub struct EgressConfig {
    /// Address ranges a connector may reach although they are normally refused
    /// (loopback, RFC 1918, ...): e.g. the on-premises network a remote worker sits in,
    /// or `127.0.0.1/32` in tests.
    pub allow_cidrs: Vec<IpNet>,
    /// Longest wait for a connection, all of it: resolving the name, connecting (trying
    /// up to three addresses) and the TLS handshake. A connector may ask for less,
    /// never more.
    pub connect_timeout: Duration,
    /// Longest wait for the response head once the request is sent.
    pub first_byte_timeout: Duration,
    /// Longest silence between two chunks of a response body.
    pub between_bytes_timeout: Duration,
    /// Largest response body a connector may receive; a bigger one ends with
    /// `HTTP-response-body-size`.
    pub max_response_bytes: u64,
    /// Extra trust anchors for https besides the Mozilla roots (a private CA, or a
    /// test's self-signed certificate).
    pub extra_root_certificates: Vec<CertificateDer<'static>>,
    /// Records or replays the exchanges of requests the policy allowed (`outpost app
    /// test --record/--replay`); `None` on a worker, which always sends for real.
    pub tape: Option<tape::Tape>,
}

impl Default for EgressConfig {
    fn default() -> Self {
        Self {
            allow_cidrs: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(30),
            between_bytes_timeout: Duration::from_secs(30),
            max_response_bytes: 8 << 20,
            extra_root_certificates: Vec::new(),
            tape: None,
        }
    }
}
