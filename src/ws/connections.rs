//! When points' consoles connect and disconnect, written in batches.
//!
//! A national session opens with tens of thousands of consoles connecting
//! within minutes; one durable write each would queue them behind each
//! other's fsync. Notes waiting together are written in one transaction, and
//! each caller still waits until its note is stored.

use tokio::sync::{mpsc, oneshot};

use crate::store::Db;

/// Notes written in one transaction at most.
const MAX_BATCH: usize = 2000;

type Note = (i64, oneshot::Sender<()>);

#[derive(Clone)]
pub struct ConnectionNotes {
    queue: mpsc::UnboundedSender<Note>,
}

impl ConnectionNotes {
    pub fn spawn(db: Db) -> ConnectionNotes {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_notes(db, rx));
        ConnectionNotes { queue }
    }

    /// Records that the console of `point_id` connected or disconnected now.
    pub async fn note(&self, point_id: i64) {
        let (done, stored) = oneshot::channel();
        if self.queue.send((point_id, done)).is_ok() {
            let _ = stored.await;
        }
    }
}

async fn write_notes(db: Db, mut rx: mpsc::UnboundedReceiver<Note>) {
    while let Some(first) = rx.recv().await {
        let mut notes = vec![first];
        while notes.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(note) => notes.push(note),
                Err(_) => break,
            }
        }
        let mut ids: Vec<i64> = notes.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        if let Err(e) = db.note_point_connections(&ids).await {
            tracing::warn!(error = %e, points = ids.len(), "could not record console connections");
        }
        for (_, done) in notes {
            let _ = done.send(());
        }
    }
}
