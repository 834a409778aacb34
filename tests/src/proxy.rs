//! A TCP proxy the test controls, to cut RabbitMQ off without touching the machine's
//! shared node: [`Proxy::cut`] severs every connection and refuses new ones until
//! [`Proxy::restore`]. Plain threads, so it serves sync and async tests alike.

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One proxy on `127.0.0.1:<port>`; stops when dropped.
pub struct Proxy {
    /// The local port clients connect to instead of the upstream's.
    pub port: u16,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    /// Set by [`Proxy::cut`]: new connections are closed at once.
    refusing: AtomicBool,
    /// Set when the proxy is dropped: the accept loop ends.
    stopped: AtomicBool,
    /// Both sockets of every live link, to sever them on a cut. Taken while a new link is
    /// admitted too, so no link escapes a cut.
    open: Mutex<Vec<TcpStream>>,
    /// Links forwarded to the upstream so far (refused ones not counted): a client that
    /// reconnected after a cut shows as one more.
    forwarded: AtomicU64,
}

impl Proxy {
    /// Forwards `127.0.0.1:<port>` to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("a proxy port: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("the proxy's port: {e}"));
        let state = Arc::new(State::default());
        let upstream = upstream.to_string();
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if shared.stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                forward(&shared, client, &upstream);
            }
        });
        Proxy { port, state }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Severs every connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        let mut open = self.state.open.lock().unwrap_or_else(|e| e.into_inner());
        self.state.refusing.store(true, Ordering::SeqCst);
        for stream in open.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.state.refusing.store(false, Ordering::SeqCst);
    }

    /// How many connections reached the upstream so far.
    pub fn forwarded(&self) -> u64 {
        self.state.forwarded.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accept loop so it sees `stopped`.
        let _ = TcpStream::connect(self.addr());
    }
}

/// Admits one client: connects it to the upstream and copies both ways on two threads,
/// or closes it when the proxy is cut or the upstream does not answer.
fn forward(state: &State, client: TcpStream, upstream: &str) {
    let mut open = state.open.lock().unwrap_or_else(|e| e.into_inner());
    if state.refusing.load(Ordering::SeqCst) {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    // As lapin does: Nagle would add 40 ms to every confirm.
    let _ = client.set_nodelay(true).and(server.set_nodelay(true));
    let (Ok(client_copy), Ok(server_copy)) = (client.try_clone(), server.try_clone()) else { return };
    let (Ok(client_kept), Ok(server_kept)) = (client.try_clone(), server.try_clone()) else { return };
    open.extend([client_kept, server_kept]);
    state.forwarded.fetch_add(1, Ordering::SeqCst);
    for (mut from, mut to) in [(client_copy, server_copy), (server, client)] {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        });
    }
}
