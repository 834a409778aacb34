//! Change notifications for watchers (`WatchActionRun`): every progress message, app
//! run finishing and action run closing is broadcast inside the broker.

use tokio::sync::broadcast;

/// What changed in a run, for watchers.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A connector's progress message.
    Progress { action_run_id: i64, app_run_id: i64, parameter_index: u32, message: String },
    /// The action run left `pending`.
    Started { action_run_id: i64 },
    /// An app run reached its final status.
    AppRunDone { action_run_id: i64, app_run_id: i64 },
    /// The action run reached its final status.
    ActionRunDone { action_run_id: i64 },
}

impl Change {
    /// The action run the change is about.
    pub fn action_run_id(&self) -> i64 {
        match self {
            Change::Progress { action_run_id, .. }
            | Change::Started { action_run_id }
            | Change::AppRunDone { action_run_id, .. }
            | Change::ActionRunDone { action_run_id } => *action_run_id,
        }
    }
}

/// Fans run changes out to every watcher. Slow watchers skip changes and re-read the
/// run, so a watcher never holds the broker back.
#[derive(Clone)]
pub struct Watch {
    sender: broadcast::Sender<Change>,
}

impl Default for Watch {
    fn default() -> Self {
        Watch { sender: broadcast::channel(4096).0 }
    }
}

impl Watch {
    pub fn publish(&self, changes: impl IntoIterator<Item = Change>) {
        for change in changes {
            // No receiver is fine: nobody is watching.
            let _ = self.sender.send(change);
        }
    }

    pub fn publish_done(&self, action_run_id: i64) {
        self.publish([Change::ActionRunDone { action_run_id }]);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }
}
