//! `hostile`: a TEST-ONLY connector that misbehaves on demand, so the host's tests can
//! prove the sandbox holds. Never install it in production.
//!
//! Each action attacks one limit: `spin` the CPU deadline, `recurse` the stack,
//! `grow memory` the memory cap, `big result` the result size, `fetch` the egress
//! policy, `log flood` the log bounds, `snoop` the empty WASI context (files,
//! environment, arguments, sockets, name lookup); `read state`/`write state` and `panic` check the
//! host's bookkeeping. `echo` proves the connector runs at all.

use std::collections::BTreeMap;
use std::hint::black_box;

use outpost_app::{
    Action, ActionResult, Connector, Result, Status, bail, http, load_state, log, save_progress, save_state,
};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

struct Hostile;

impl Connector for Hostile {
    fn handle(action: &Action, result: &mut ActionResult) -> Result<()> {
        match action.identifier() {
            "echo" => echo(action, result),
            "spin" => spin(),
            "recurse" => {
                let depth = recurse(0);
                bail!("recursion stopped at depth {depth} without overflowing the stack")
            }
            "grow_memory" => grow_memory(result),
            "big_result" => big_result(action, result),
            "fetch" => fetch(action, result),
            "log_flood" => log_flood(action, result),
            "snoop" => snoop(action, result),
            "read_state" => read_state(result),
            "write_state" => write_state(action, result),
            "panic" => panic!("hostile connector panicked on purpose"),
            other => bail!("unknown action '{other}'"),
        }
    }
}

outpost_app::export_connector!(Hostile);

fn echo(action: &Action, result: &mut ActionResult) -> Result<()> {
    let keys = action.params::<BTreeMap<String, IgnoredAny>>()?.len();
    result.add_data(action.raw_params())?;
    result.update_summary(json!({ "keys": keys }))?;
    result.set_status(Status::Success, format!("Echoed {keys} keys"));
    Ok(())
}

/// Burns CPU forever; only the host's deadline (epoch interruption) stops it.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Recurses until the stack overflows. `black_box` hides the exit condition and the
/// values from the optimizer, and the addition after the call keeps it from becoming a
/// tail call or a loop. Frames are kept small so the engine's own (native) stack limit
/// is what stops it, not the shadow stack in linear memory.
fn recurse(depth: u64) -> u64 {
    if black_box(depth == u64::MAX) {
        return depth;
    }
    recurse(black_box(depth + 1)).wrapping_add(black_box(depth))
}

/// Allocates and fills memory in 64 MiB steps up to 4 GiB, the most a 32-bit memory
/// can address. A host that caps memory traps the instance at the cap; one that only
/// refuses to grow shows up here as an allocation that fails.
fn grow_memory(result: &mut ActionResult) -> Result<()> {
    const STEP: usize = 64 << 20;
    const STEPS: usize = 64; // 64 x 64 MiB = 4 GiB
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    while blocks.len() < STEPS {
        let mut block = Vec::new();
        if block.try_reserve_exact(STEP).is_err() {
            break;
        }
        // Writing every byte makes the host commit the pages, not merely reserve them.
        block.resize(STEP, 0xA5);
        blocks.push(black_box(block));
        save_progress(format!("Allocated {} MiB", blocks.len() * 64));
    }
    let mib = blocks.len() * 64;
    result.add_data(json!({ "allocated_mib": mib }))?;
    result.set_status(Status::Success, format!("Allocated {mib} MiB before allocation failed"));
    Ok(())
}

#[derive(Deserialize)]
struct BigResultParams {
    megabytes: f64,
}

/// Returns one data item holding a string of `megabytes` MiB.
fn big_result(action: &Action, result: &mut ActionResult) -> Result<()> {
    let BigResultParams { megabytes } = action.params()?;
    let bytes = (megabytes.max(0.0) * 1024.0 * 1024.0) as usize;
    result.add_data(json!({ "blob": "x".repeat(bytes) }))?;
    result.set_status(Status::Success, format!("Returned {megabytes} MiB"));
    Ok(())
}

#[derive(Deserialize)]
struct FetchParams {
    url: String,
}

/// GETs any URL: the egress policy decides, and a denial comes back as a failed result
/// with the SDK's message.
fn fetch(action: &Action, result: &mut ActionResult) -> Result<()> {
    let FetchParams { url } = action.params()?;
    let response = http::get(&url).send()?;
    let (status, bytes) = (response.status(), response.body().len());
    result.add_data(json!({ "status": status, "bytes": bytes }))?;
    result.set_status(Status::Success, format!("Fetched {bytes} bytes with status {status}"));
    Ok(())
}

#[derive(Deserialize)]
struct LogFloodParams {
    lines: f64,
}

/// Writes `lines` lines through the host log, and as many to stdout and to stderr.
fn log_flood(action: &Action, result: &mut ActionResult) -> Result<()> {
    let LogFloodParams { lines } = action.params()?;
    let lines = lines.max(0.0) as u64;
    for i in 0..lines {
        log::info(format!("log flood line {i}"));
        println!("stdout flood line {i}");
        eprintln!("stderr flood line {i}");
    }
    result.add_data(json!({ "lines": lines }))?;
    result.set_status(Status::Success, format!("Logged {lines} lines"));
    Ok(())
}

/// What `snoop` found; in a correct sandbox every list is empty and every attempt
/// failed. Fields of what was not looked for stay empty.
#[derive(Serialize, Default)]
struct Snoop {
    /// Entries of `/`.
    files: Vec<String>,
    files_error: Option<String>,
    /// Contents of `/etc/passwd`.
    passwd: Option<String>,
    passwd_error: Option<String>,
    /// `NAME=value` for every environment variable.
    env: Vec<String>,
    args: Vec<String>,
    /// `connected` or `error: ...` for a TCP connection to 127.0.0.1:5432.
    socket: String,
    /// `bound` or `error: ...` for a UDP socket on 0.0.0.0:0.
    udp: String,
    /// The addresses `localhost:80` resolves to, or `error: ...`.
    lookup: String,
}

#[derive(Deserialize)]
struct SnoopParams {
    #[serde(default = "everything")]
    what: String,
}

fn everything() -> String {
    "everything".into()
}

fn snoop(action: &Action, result: &mut ActionResult) -> Result<()> {
    let SnoopParams { what } = action.params()?;
    let wants = |part: &str| what == "everything" || what == part;
    let mut found = Snoop::default();
    if wants("files") {
        match std::fs::read_dir("/") {
            Ok(dir) => {
                found.files = dir
                    .filter_map(|e| e.ok())
                    .map(|e| e.path().display().to_string())
                    .collect()
            }
            Err(e) => found.files_error = Some(e.to_string()),
        }
        match std::fs::read("/etc/passwd") {
            Ok(bytes) => found.passwd = Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) => found.passwd_error = Some(e.to_string()),
        }
    }
    if wants("env") {
        found.env = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    }
    if wants("args") {
        found.args = std::env::args().collect();
    }
    if wants("tcp") {
        found.socket = match std::net::TcpStream::connect("127.0.0.1:5432") {
            Ok(_) => "connected".to_string(),
            Err(e) => format!("error: {e}"),
        };
    }
    if wants("udp") {
        found.udp = match std::net::UdpSocket::bind("0.0.0.0:0") {
            Ok(_) => "bound".to_string(),
            Err(e) => format!("error: {e}"),
        };
    }
    if wants("dns") {
        found.lookup = match std::net::ToSocketAddrs::to_socket_addrs("localhost:80") {
            Ok(addrs) => addrs.map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
            Err(e) => format!("error: {e}"),
        };
    }
    let leaked = !found.files.is_empty()
        || found.passwd.is_some()
        || !found.env.is_empty()
        || !found.args.is_empty()
        || found.socket == "connected"
        || found.udp == "bound"
        || !(found.lookup.is_empty() || found.lookup.starts_with("error"));
    result.add_data(&found)?;
    result.set_status(
        Status::Success,
        if leaked { "The sandbox leaked" } else { "Nothing found" },
    );
    Ok(())
}

fn read_state(result: &mut ActionResult) -> Result<()> {
    let state: Map<String, Value> = load_state()?;
    let keys = state.len();
    result.add_data(state)?;
    result.set_status(Status::Success, format!("State has {keys} keys"));
    Ok(())
}

#[derive(Deserialize)]
struct WriteStateParams {
    value: String,
}

fn write_state(action: &Action, result: &mut ActionResult) -> Result<()> {
    let WriteStateParams { value } = action.params()?;
    save_state(&json!({ "value": value }))?;
    result.set_status(Status::Success, "State saved");
    Ok(())
}
