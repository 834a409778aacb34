//! Turning how a run ended into the [`Outcome`] an operator reads.

use std::time::{Duration, Instant};

use outpost_proto::size::human_bytes;
use wasmtime::Trap;

use super::bindings::{ActionResult, WitStatus};
use super::egress::Journal;
use super::output::LogSink;
use super::{Limits, Outcome, Status};

/// How the call into the connector ended.
pub enum Ended {
    /// `handle` returned a result.
    Returned(ActionResult),
    /// The connector trapped (or a host import failed fatally).
    Trapped(wasmtime::Error),
    /// The instance could not be created.
    Instantiate(wasmtime::Error),
    /// The run's deadline passed while the connector waited in a host call.
    TimedOut,
    /// The action run was cancelled.
    Cancelled,
}

/// Everything [`build`] looks at.
pub struct Facts<'a> {
    pub ended: Ended,
    pub memory_exhausted: bool,
    /// What the connector tried that the sandbox denies (files, arguments, sockets).
    pub denied: Option<String>,
    pub limits: Limits,
    pub log: &'a LogSink,
    pub journal: Journal,
    pub saved_state: Option<String>,
    pub started: Instant,
}

/// The outcome of a run: the connector's result when it returned a valid one within
/// its limits, otherwise a failed result with `exception` set and a message that says
/// what the sandbox stopped.
pub fn build(facts: Facts<'_>) -> Outcome {
    let Facts { ended, memory_exhausted, denied, limits, log, journal, saved_state, started } = facts;
    let log_exceeded = log.exceeded();
    let mut outcome = match ended {
        Ended::Cancelled => exception("the action run was cancelled".into()),
        Ended::TimedOut => exception(deadline_message(limits.timeout)),
        _ if memory_exhausted => {
            exception(format!("the connector ran out of memory (limit {})", human_bytes(limits.memory_bytes)))
        }
        // The line past the budget traps the connector; an unfinished last line past it
        // is only counted once the run is over, after it returned.
        _ if log_exceeded => {
            exception(format!("the connector wrote more than {} log lines (the limit)", log.max_lines()))
        }
        Ended::Returned(result) => from_result(result, limits.max_result_bytes),
        Ended::Trapped(error) => exception(trap_message(&error, log, limits.timeout)),
        Ended::Instantiate(error) => exception(format!("the sandbox could not instantiate the connector: {error:#}")),
    };
    // A connector that returned after trying what it may not (its data shows what it
    // found: nothing) fails, as a denied request does. When the sandbox stopped it for
    // another reason (a trap, the deadline, a cap), that reason is the message.
    if let Some(denied) = denied
        && !outcome.exception
    {
        outcome.message = denied;
        outcome.status = Status::Failed;
        outcome.exception = true;
    }
    if let Some((url, reason)) = &journal.first_denial {
        let denied = format!("request to {url} denied: {reason}");
        outcome.message = if outcome.message.is_empty() { denied } else { format!("{denied}; {}", outcome.message) };
        outcome.status = Status::Failed;
        outcome.exception = true;
    }
    let (log_lines, _dropped) = log.counts();
    outcome.http = journal.exchanges;
    outcome.saved_state = saved_state;
    outcome.log_lines = log_lines;
    outcome.duration = started.elapsed();
    outcome
}

fn exception(message: String) -> Outcome {
    Outcome {
        status: Status::Failed,
        message,
        data: Vec::new(),
        summary: "{}".into(),
        exception: true,
        saved_state: None,
        http: Vec::new(),
        log_lines: 0,
        duration: Duration::ZERO,
    }
}

fn deadline_message(timeout: Duration) -> String {
    format!("the connector exceeded its {} deadline", human_duration(timeout))
}

fn trap_message(error: &wasmtime::Error, log: &LogSink, timeout: Duration) -> String {
    match error.downcast_ref::<Trap>() {
        // The epoch callback interrupts only at the deadline (cancellation is handled
        // before we get here).
        Some(Trap::Interrupt) => deadline_message(timeout),
        Some(Trap::StackOverflow) => "the connector overflowed its stack".into(),
        Some(Trap::MemoryOutOfBounds) if runaway_recursion(error) => "the connector overflowed its stack".into(),
        Some(Trap::UnreachableCodeReached) => match log.panic_message() {
            Some(panic) => format!("the connector trapped: {panic}"),
            None => format!("the connector trapped: {}", Trap::UnreachableCodeReached),
        },
        Some(trap) => format!("the connector trapped: {trap}"),
        None => format!("the connector trapped: {error:#}"),
    }
}

/// Whether a trap's backtrace is one function (or a short cycle) calling itself over and
/// over: Rust and C keep large locals on a shadow stack in linear memory, and when that
/// overflows first the trap is an out-of-bounds access, not a native stack overflow.
fn runaway_recursion(error: &wasmtime::Error) -> bool {
    let Some(backtrace) = error.downcast_ref::<wasmtime::WasmBacktrace>() else { return false };
    let frames = backtrace.frames();
    if frames.len() < 16 {
        return false;
    }
    let mut counts: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for frame in frames {
        *counts.entry(frame.func_index()).or_default() += 1;
    }
    counts.values().max().is_some_and(|&most| most * 2 >= frames.len())
}

fn from_result(result: ActionResult, max_result_bytes: u64) -> Outcome {
    let size = result.message.len() + result.data.iter().map(String::len).sum::<usize>() + result.summary.len();
    if size as u64 > max_result_bytes {
        return exception(format!(
            "the connector's result is {size} bytes, more than the {} allowed",
            human_bytes(max_result_bytes)
        ));
    }
    if let Some(index) = result.data.iter().position(|item| !is_json_object(item)) {
        return exception(format!("the connector's data item {index} is not a JSON object"));
    }
    let summary = if result.summary.trim().is_empty() { "{}".to_string() } else { result.summary };
    if !is_json_object(&summary) {
        return exception("the connector's summary is not a JSON object".into());
    }
    Outcome {
        status: match result.status {
            WitStatus::Success => Status::Success,
            WitStatus::Failed => Status::Failed,
        },
        message: result.message,
        data: result.data,
        summary,
        ..exception(String::new())
    }
    .not_exceptional()
}

impl Outcome {
    fn not_exceptional(mut self) -> Self {
        self.exception = false;
        self
    }
}

fn is_json_object(text: &str) -> bool {
    matches!(serde_json::from_str::<serde_json::Value>(text), Ok(serde_json::Value::Object(_)))
}

/// `30 s`, `2.5 s`, `500 ms`.
pub fn human_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis} ms")
    } else if millis.is_multiple_of(1000) {
        format!("{} s", millis / 1000)
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(data: &[&str], summary: &str) -> ActionResult {
        ActionResult {
            status: WitStatus::Success,
            message: "ok".into(),
            data: data.iter().map(|s| s.to_string()).collect(),
            summary: summary.into(),
        }
    }

    #[test]
    fn data_and_summary_must_be_json_objects() {
        let ok = from_result(result(&[r#"{"a":1}"#], ""), 1 << 20);
        assert!(!ok.exception);
        assert_eq!(ok.summary, "{}");
        let bad = from_result(result(&[r#"{"a":1}"#, "[1,2]"], "{}"), 1 << 20);
        assert!(bad.exception);
        assert_eq!(bad.message, "the connector's data item 1 is not a JSON object");
        let bad = from_result(result(&[], "not json"), 1 << 20);
        assert_eq!(bad.message, "the connector's summary is not a JSON object");
    }

    #[test]
    fn an_oversized_result_is_refused() {
        let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(2000));
        let outcome = from_result(result(&[&big], "{}"), 1024);
        assert!(outcome.exception);
        assert_eq!(outcome.message, "the connector's result is 2012 bytes, more than the 1 KiB allowed");
        assert!(outcome.data.is_empty());
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_secs(30)), "30 s");
        assert_eq!(human_duration(Duration::from_millis(2500)), "2.5 s");
        assert_eq!(human_duration(Duration::from_millis(500)), "500 ms");
    }
}
