//! Change notifications for watchers (`WatchActionRun`): every progress message, app
//! run finishing and action run closing is broadcast inside the broker.

use tokio::sync::broadcast;

use crate::store::runs::Change;

/// Fans store changes out to every watcher. Slow watchers skip changes and re-read the
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
