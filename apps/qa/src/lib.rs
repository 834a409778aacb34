//! `qa`: the connector Outpost's own tests and benchmarks run.
//!
//! Each action exercises one path through the worker: a plain success, a result that
//! mirrors its input, a long run that reports progress, a failure, and a trap.

use std::collections::BTreeMap;
use std::time::Duration;

use outpost_app::{Action, ActionResult, Connector, Result, Status, bail, ensure, save_progress};
use serde::Deserialize;
use serde::de::IgnoredAny;

struct Qa;

impl Connector for Qa {
    fn handle(action: &Action, result: &mut ActionResult) -> Result<()> {
        match action.identifier() {
            "test_connectivity" => result.set_status(Status::Success, "Connectivity test succeeded"),
            "echo" => echo(action, result)?,
            "sleep" => sleep(action, result)?,
            "fail" => {
                let FailParams { message } = action.params()?;
                result.set_status(Status::Failed, message);
            }
            // A panic aborts the instance (wasm32 has no unwinding): the host sees a trap.
            "crash" => panic!("crash requested"),
            other => bail!("unknown action '{other}'"),
        }
        Ok(())
    }
}

outpost_app::export_connector!(Qa);

#[derive(Deserialize)]
struct SleepParams {
    seconds: f64,
}

#[derive(Deserialize)]
struct FailParams {
    message: String,
}

/// Returns the parameter object exactly as received, `context` included, so a test can
/// compare what it sent with what the connector saw.
fn echo(action: &Action, result: &mut ActionResult) -> Result<()> {
    let keys = action.params::<BTreeMap<String, IgnoredAny>>()?.len();
    result.add_data(action.raw_params())?;
    result.update_summary(BTreeMap::from([("keys", keys)]))?;
    result.set_status(Status::Success, format!("Echoed {keys} keys"));
    Ok(())
}

/// Sleeps in the host (not a busy loop, so it costs no CPU deadline), one progress
/// message per second.
fn sleep(action: &Action, result: &mut ActionResult) -> Result<()> {
    let SleepParams { seconds } = action.params()?;
    ensure!(
        seconds.is_finite() && seconds >= 0.0,
        "seconds must be a non-negative number, got {seconds}"
    );
    let total = Duration::try_from_secs_f64(seconds)?;
    let mut left = total;
    while !left.is_zero() {
        let step = left.min(Duration::from_secs(1));
        outpost_app::sleep(step);
        left -= step;
        save_progress(format!("Slept {} of {seconds} seconds", (total - left).as_secs_f64()));
    }
    result.update_summary(BTreeMap::from([("seconds", seconds)]))?;
    result.set_status(Status::Success, format!("Slept {seconds} seconds"));
    Ok(())
}
