//! Logs go to stderr; `OUTPOST_LOG` takes a tracing filter (default `info`) and
//! `OUTPOST_LOG_FORMAT=json` switches to JSON lines. Colours only on a terminal: a log
//! file or journald gets plain text that `grep` finds.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("OUTPOST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if std::env::var("OUTPOST_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
