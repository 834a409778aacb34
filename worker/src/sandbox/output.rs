//! What a connector writes: `host.log` lines and its stdout/stderr, into the worker's
//! `tracing` log, tagged with the task, and bounded in count and length.
//!
//! The line budget is a hard limit, like memory: the lines up to it are logged, and the
//! write that goes past it traps the connector (see [`LogSink::exceeded`]).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// How much of stderr is kept to find a panic message in after a trap.
const STDERR_TAIL_BYTES: usize = 8 * 1024;

/// Where a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `host.log` at a level.
    Log(tracing::Level),
    Stdout,
    Stderr,
}

/// The log of one run.
pub struct LogSink {
    task_id: String,
    action_run_id: i64,
    max_lines: u32,
    max_line_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Lines logged, at most `max_lines`.
    lines: u32,
    /// Lines past `max_lines`: one is enough to fail the run.
    dropped: u32,
    stdout: Partial,
    stderr: Partial,
    stderr_tail: VecDeque<u8>,
}

/// An unfinished line of a stream, cut at `max_line_bytes`.
#[derive(Default)]
struct Partial {
    bytes: Vec<u8>,
    truncated: bool,
}

impl LogSink {
    pub fn new(task_id: &str, action_run_id: i64, max_lines: u32, max_line_bytes: usize) -> Self {
        Self {
            task_id: task_id.to_string(),
            action_run_id,
            max_lines,
            max_line_bytes: max_line_bytes.max(16),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lines logged so far, and lines dropped past the limit.
    pub fn counts(&self) -> (u32, u32) {
        let inner = self.lock();
        (inner.lines, inner.dropped)
    }

    /// Whether the connector wrote more lines than it may.
    pub fn exceeded(&self) -> bool {
        self.lock().exceeded()
    }

    /// The most lines a run may write.
    pub fn max_lines(&self) -> u32 {
        self.max_lines
    }

    /// Logs one `host.log` line; `Err` once the connector is past its line budget.
    pub fn log(&self, level: tracing::Level, message: &str) -> Result<(), LogLimit> {
        let mut inner = self.lock();
        self.emit(&mut inner, Source::Log(level), message.as_bytes(), false);
        inner.check()
    }

    /// Takes bytes a connector wrote to stdout or stderr; complete lines are logged.
    /// `Err` once the connector is past its line budget.
    pub fn write(&self, source: Source, mut bytes: &[u8]) -> Result<(), LogLimit> {
        let mut inner = self.lock();
        if source == Source::Stderr {
            let tail = &mut inner.stderr_tail;
            let keep = bytes.len().min(STDERR_TAIL_BYTES);
            tail.extend(&bytes[bytes.len() - keep..]);
            let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
            tail.drain(..excess);
        }
        while !bytes.is_empty() {
            let (chunk, rest, complete) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (&bytes[..i], &bytes[i + 1..], true),
                None => (bytes, &[][..], false),
            };
            bytes = rest;
            let partial = match source {
                Source::Stderr => &mut inner.stderr,
                _ => &mut inner.stdout,
            };
            let room = self.max_line_bytes.saturating_sub(partial.bytes.len());
            partial.bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            partial.truncated |= chunk.len() > room;
            if complete {
                let line = std::mem::take(partial);
                self.emit(&mut inner, source, &line.bytes, line.truncated);
                inner.check()?;
            }
        }
        Ok(())
    }

    /// Logs unfinished stdout/stderr lines at the end of a run.
    pub fn flush(&self) {
        let mut inner = self.lock();
        for source in [Source::Stdout, Source::Stderr] {
            let partial = match source {
                Source::Stderr => std::mem::take(&mut inner.stderr),
                _ => std::mem::take(&mut inner.stdout),
            };
            if !partial.bytes.is_empty() {
                self.emit(&mut inner, source, &partial.bytes, partial.truncated);
            }
        }
        if inner.exceeded() {
            tracing::warn!(task_id = %self.task_id, action_run_id = self.action_run_id,
                kept = inner.lines, dropped = inner.dropped, "connector stopped past its log line limit");
        }
    }

    /// The message of a Rust panic the connector printed to stderr, if any, as
    /// `panicked at <file:line:col>: <message>`.
    pub fn panic_message(&self) -> Option<String> {
        let tail: Vec<u8> = self.lock().stderr_tail.iter().copied().collect();
        let tail = String::from_utf8_lossy(&tail);
        let start = tail.rfind("panicked at ")?;
        let text = &tail[start..];
        let text = text.split("\nnote: run with").next().unwrap_or(text);
        let text = match text.split_once(":\n") {
            Some((location, message)) => format!("{location}: {}", message.trim()),
            None => text.trim().to_string(),
        };
        let text = text.replace('\n', " ");
        Some(truncate(&text, 1024).into_owned())
    }

    fn emit(&self, inner: &mut Inner, source: Source, line: &[u8], truncated: bool) {
        if inner.lines >= self.max_lines {
            inner.dropped = inner.dropped.saturating_add(1);
            return;
        }
        inner.lines += 1;
        let text = String::from_utf8_lossy(line);
        let text = truncate(&text, self.max_line_bytes);
        let text = escape_controls(&text);
        let cut = if truncated || text.len() < line.len() { "…" } else { "" };
        let (task_id, run) = (&self.task_id, self.action_run_id);
        match source {
            Source::Log(tracing::Level::ERROR) => {
                tracing::error!(target: "outpost_worker::connector", task_id = %task_id, action_run_id = run, "{text}{cut}")
            }
            Source::Log(tracing::Level::WARN) | Source::Stderr => {
                let stream = if source == Source::Stderr { "stderr" } else { "log" };
                tracing::warn!(target: "outpost_worker::connector", task_id = %task_id, action_run_id = run, stream, "{text}{cut}")
            }
            Source::Log(tracing::Level::INFO) | Source::Stdout => {
                let stream = if source == Source::Stdout { "stdout" } else { "log" };
                tracing::info!(target: "outpost_worker::connector", task_id = %task_id, action_run_id = run, stream, "{text}{cut}")
            }
            Source::Log(_) => {
                tracing::debug!(target: "outpost_worker::connector", task_id = %task_id, action_run_id = run, "{text}{cut}")
            }
        }
    }
}

impl Inner {
    /// A line past `max_lines` was written: the run fails.
    fn exceeded(&self) -> bool {
        self.dropped > 0
    }

    fn check(&self) -> Result<(), LogLimit> {
        if self.exceeded() { Err(LogLimit) } else { Ok(()) }
    }
}

/// The connector wrote more lines than its budget: the write traps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connector exceeded its log line limit")]
pub struct LogLimit;

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].into()
}

/// Escapes control characters so one guest line stays one line in the worker's log.
fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() { c.escape_default().collect() } else { vec![c] };
            escaped
        })
        .collect::<String>()
        .into()
}

/// A connector's stdout or stderr, written into the run's [`LogSink`].
#[derive(Clone)]
pub struct GuestOutput {
    sink: Arc<LogSink>,
    source: Source,
}

impl GuestOutput {
    pub fn stdout(sink: Arc<LogSink>) -> Self {
        Self { sink, source: Source::Stdout }
    }

    pub fn stderr(sink: Arc<LogSink>) -> Self {
        Self { sink, source: Source::Stderr }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// How much a connector may write in one call; the sink copies synchronously.
const WRITE_PERMIT: usize = 64 * 1024;

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        // A trap, not a stream error the connector could ignore and carry on after.
        self.sink.write(self.source, &bytes).map_err(|limit| StreamError::Trap(limit.into()))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestOutput {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.sink.write(self.source, buf) {
            Ok(()) => Poll::Ready(Ok(buf.len())),
            Err(limit) => Poll::Ready(Err(std::io::Error::other(limit))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_and_cut_and_the_line_past_the_limit_fails_the_write() {
        let sink = LogSink::new("t", 1, 3, 16);
        assert_eq!(sink.write(Source::Stdout, b"one\ntwo\nthr"), Ok(()));
        assert_eq!(sink.write(Source::Stdout, b"ee is a very long line indeed\n"), Ok(()));
        assert_eq!(sink.counts(), (3, 0));
        assert!(!sink.exceeded(), "exactly at the limit is fine");
        assert_eq!(sink.log(tracing::Level::INFO, "four"), Err(LogLimit));
        assert!(sink.exceeded());
        // The write fails at the first line past the limit; what follows it is not read.
        assert_eq!(sink.write(Source::Stderr, b"five\nsix"), Err(LogLimit));
        sink.flush();
        assert_eq!(sink.counts(), (3, 2), "the lines up to the limit are kept");
    }

    #[test]
    fn an_unfinished_line_past_the_limit_counts_at_the_end() {
        let sink = LogSink::new("t", 1, 1, 16);
        assert_eq!(sink.write(Source::Stdout, b"one\ntwo"), Ok(()));
        assert!(!sink.exceeded());
        sink.flush();
        assert!(sink.exceeded());
    }

    #[test]
    fn a_rust_panic_message_is_found_in_stderr() {
        let sink = LogSink::new("t", 1, 10, 4096);
        let _ = sink.write(
            Source::Stderr,
            b"\nthread '<unnamed>' panicked at src/lib.rs:42:9:\nhostile panic: boom\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
        );
        assert_eq!(sink.panic_message().as_deref(), Some("panicked at src/lib.rs:42:9: hostile panic: boom"));
        assert_eq!(LogSink::new("t", 1, 0, 64).panic_message(), None);
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(escape_controls("a\nb\u{1b}"), "a\\nb\\u{1b}");
    }
}
