//! The WASI capabilities a connector is linked against but granted nothing of, watched.
//!
//! A connector gets no files, environment, arguments or sockets (see
//! [`super::state::RunState::new`]), so looking for them finds nothing. That alone would
//! let a connector probe the sandbox silently, so the WASI functions that are the only
//! ways in are wrapped: each still answers what wasmtime's empty context answers (no
//! preopened directory, sockets and name lookup refused), and the attempt is recorded.
//! A run that tried any of them fails with a message naming what was denied.
//!
//! The ways in, and why they are enough:
//! - files: `wasi:filesystem/preopens.get-directories` is the only source of a directory
//!   descriptor, and every path operation needs one. wasi-libc (Rust's `std::fs`, C)
//!   asks for the preopens on the first path it resolves, then fails in the guest when
//!   none matches: the host sees that one call, not the path;
//! - sockets: `wasi:sockets/tcp-create-socket`, `udp-create-socket` and
//!   `ip-name-lookup.resolve-addresses`; no socket exists without the first two.
//!
//! Environment variables and command-line arguments are the exception: both are empty
//! lists, and reading them is not reported, because language runtimes read them on
//! ordinary paths and an empty list grants nothing. `get-environment` takes no name and
//! answers every variable at once, and a Rust connector's own runtime calls it: the
//! panic hook and `std::backtrace::Backtrace::capture` (which `anyhow` runs for every
//! error) read `RUST_BACKTRACE`. componentize-py's Python runtime reads the arguments
//! (to fill `sys.argv`) on the first call into the component, inside `handle`, before
//! any of the connector's code. The host cannot tell either from a connector looking,
//! and failing every Python connector, or every Rust one that returns an error, is not
//! an option.
//!
//! Only calls made while `handle` runs are recorded, not those made while the instance
//! starts: a language runtime may set itself up there, which no connector author chooses.

use std::collections::BTreeSet;

use wasmtime::component::Resource;
use wasmtime_wasi::cli::WasiCliView;
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{self, ResolveAddressStream};
use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpAddress, IpAddressFamily, Network};
use wasmtime_wasi::p2::bindings::{cli::environment, filesystem::preopens, sockets};
use wasmtime_wasi::p2::{DynPollable, SocketError, SocketResult, TcpSocket, UdpSocket};
use wasmtime_wasi::sockets::WasiSocketsView;

use super::state::RunState;

/// A capability the sandbox does not grant, as a connector may try to use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    Files,
    TcpSocket,
    UdpSocket,
    NameLookup,
}

impl Capability {
    /// What the connector tried, as the run's message says it.
    fn attempt(self) -> &'static str {
        match self {
            Capability::Files => "open files",
            Capability::TcpSocket => "open a tcp socket",
            Capability::UdpSocket => "open a udp socket",
            Capability::NameLookup => "look up a host name",
        }
    }
}

/// The denied capabilities one run tried, each once.
#[derive(Debug, Default)]
pub struct Attempts {
    /// False while the instance starts; true once `handle` is called.
    watching: bool,
    tried: BTreeSet<Capability>,
}

impl Attempts {
    /// From now on, attempts count: the connector's own code is running.
    pub fn watch(&mut self) {
        self.watching = true;
    }

    fn record(&mut self, capability: Capability) {
        if self.watching && self.tried.insert(capability) {
            tracing::warn!(capability = capability.attempt(), "connector tried a capability the sandbox denies");
        }
    }

    /// `the connector tried to open files and open a tcp socket, which the sandbox
    /// denies`, or `None` when it tried nothing of the kind.
    pub fn message(&self) -> Option<String> {
        let tried: Vec<&str> = self.tried.iter().map(|c| c.attempt()).collect();
        let list = match tried.as_slice() {
            [] => return None,
            [one] => one.to_string(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        };
        Some(format!("the connector tried to {list}, which the sandbox denies"))
    }
}

impl environment::Host for RunState {
    /// Not recorded: see the module's documentation.
    fn get_environment(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        environment::Host::get_environment(&mut self.cli())
    }

    /// Not recorded: see the module's documentation.
    fn get_arguments(&mut self) -> wasmtime::Result<Vec<String>> {
        environment::Host::get_arguments(&mut self.cli())
    }

    fn initial_cwd(&mut self) -> wasmtime::Result<Option<String>> {
        environment::Host::initial_cwd(&mut self.cli())
    }
}

impl preopens::Host for RunState {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        self.attempts_mut().record(Capability::Files);
        preopens::Host::get_directories(&mut self.filesystem())
    }
}

// The interfaces below use `wasi:sockets/network`'s types, so the bindings need these
// on the same type; they are wasmtime's own, unchanged.
impl network::Host for RunState {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.sockets(), error)
    }

    fn network_error_code(&mut self, error: Resource<wasmtime::Error>) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.sockets(), error)
    }
}

impl network::HostNetwork for RunState {
    fn drop(&mut self, network: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.sockets(), network)
    }
}

impl sockets::tcp_create_socket::Host for RunState {
    fn create_tcp_socket(&mut self, address_family: IpAddressFamily) -> SocketResult<Resource<TcpSocket>> {
        self.attempts_mut().record(Capability::TcpSocket);
        sockets::tcp_create_socket::Host::create_tcp_socket(&mut self.sockets(), address_family)
    }
}

impl sockets::udp_create_socket::Host for RunState {
    async fn create_udp_socket(&mut self, address_family: IpAddressFamily) -> SocketResult<Resource<UdpSocket>> {
        self.attempts_mut().record(Capability::UdpSocket);
        sockets::udp_create_socket::Host::create_udp_socket(&mut self.sockets(), address_family).await
    }
}

impl ip_name_lookup::Host for RunState {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> SocketResult<Resource<ResolveAddressStream>> {
        self.attempts_mut().record(Capability::NameLookup);
        ip_name_lookup::Host::resolve_addresses(&mut self.sockets(), network, name)
    }
}

impl ip_name_lookup::HostResolveAddressStream for RunState {
    fn resolve_next_address(&mut self, stream: Resource<ResolveAddressStream>) -> SocketResult<Option<IpAddress>> {
        ip_name_lookup::HostResolveAddressStream::resolve_next_address(&mut self.sockets(), stream)
    }

    fn subscribe(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<Resource<DynPollable>> {
        ip_name_lookup::HostResolveAddressStream::subscribe(&mut self.sockets(), stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        ip_name_lookup::HostResolveAddressStream::drop(&mut self.sockets(), stream)
    }
}

/// Links the watched functions over the ones `wasmtime_wasi::p2::add_to_linker_async`
/// added.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<RunState>) -> wasmtime::Result<()> {
    use wasmtime::component::HasSelf;
    linker.allow_shadowing(true);
    environment::add_to_linker::<RunState, HasSelf<RunState>>(linker, |state| state)?;
    preopens::add_to_linker::<RunState, HasSelf<RunState>>(linker, |state| state)?;
    sockets::tcp_create_socket::add_to_linker::<RunState, HasSelf<RunState>>(linker, |state| state)?;
    sockets::udp_create_socket::add_to_linker::<RunState, HasSelf<RunState>>(linker, |state| state)?;
    ip_name_lookup::add_to_linker::<RunState, HasSelf<RunState>>(linker, |state| state)?;
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_every_attempt_once() {
        let mut attempts = Attempts::default();
        attempts.record(Capability::Files);
        assert_eq!(attempts.message(), None, "nothing counts before handle is called");
        attempts.watch();
        attempts.record(Capability::TcpSocket);
        assert_eq!(
            attempts.message().as_deref(),
            Some("the connector tried to open a tcp socket, which the sandbox denies")
        );
        attempts.record(Capability::NameLookup);
        attempts.record(Capability::Files);
        attempts.record(Capability::NameLookup);
        assert_eq!(
            attempts.message().as_deref(),
            Some(
                "the connector tried to open files, open a tcp socket and look up a host name, which the sandbox denies"
            )
        );
    }
}
