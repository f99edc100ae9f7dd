//! The layer in front of SQLite's page cache (`store::sqlite_page_cache`)
//! skips truncations it judges to have nothing to drop. If it ever judged
//! wrong, a page past the end of the database would stay cached and come
//! back as stale content: this test drives the cases where that could
//! happen and checks the database page by page afterwards.
//!
//! Its own test binary, with one test: the layer must be installed before
//! SQLite is first used in the process.

use diemcau::store::sqlite_page_cache;
use rusqlite::{Connection, params};

/// A deterministic stream of keys in random order (no dependency needed).
struct Keys(u64);

impl Keys {
    fn next(&mut self) -> String {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        format!("{:016x}-{:08}", self.0 >> 1, self.0 % 100_000_000)
    }
}

#[test]
fn skipped_truncations_never_leave_stale_pages() {
    assert!(
        sqlite_page_cache::install(),
        "the layer installs before SQLite is first used"
    );
    assert!(!sqlite_page_cache::install(), "and only once");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let writer = Connection::open(&path).unwrap();
    writer.pragma_update(None, "journal_mode", "WAL").unwrap();
    writer.pragma_update(None, "synchronous", "OFF").unwrap();
    writer
        .pragma_update(None, "cache_size", -32 * 1024)
        .unwrap();
    writer
        .execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, key TEXT NOT NULL, n INTEGER NOT NULL);
             CREATE UNIQUE INDEX t_key ON t (key);
             CREATE INDEX t_n ON t (n, key);",
        )
        .unwrap();
    let other = Connection::open(&path).unwrap();

    let mut keys = Keys(7);
    let (mut rows, mut sum) = (0i64, 0i64);
    for round in 0..600i64 {
        // Random keys into two indexes: leaf splits, some of which
        // renumber a page to the temporary number past the end.
        let tx = writer.unchecked_transaction().unwrap();
        for i in 0..40 {
            let n = round * 100 + i;
            tx.execute(
                "INSERT INTO t (key, n) VALUES (?1, ?2)",
                params![keys.next(), n],
            )
            .unwrap();
            rows += 1;
            sum += n;
        }
        tx.commit().unwrap();

        if round % 37 == 5 {
            // The file grows, then the transaction is rolled back: the
            // cache must drop the pages past the old end.
            let tx = writer.unchecked_transaction().unwrap();
            for _ in 0..400 {
                tx.execute(
                    "INSERT INTO t (key, n) VALUES (?1, -1)",
                    params![keys.next()],
                )
                .unwrap();
            }
            tx.rollback().unwrap();
        }
        if round % 23 == 11 {
            // Another connection writes: the writer's cache is reset
            // before its next transaction.
            other
                .execute(
                    "INSERT INTO t (key, n) VALUES (?1, ?2)",
                    params![keys.next(), 1_000_000 + round],
                )
                .unwrap();
            rows += 1;
            sum += 1_000_000 + round;
        }
        if round % 101 == 50 {
            // Pages freed and reused: delete a range, then insert again.
            let deleted: (i64, i64) = writer
                .query_row(
                    "SELECT count(*), coalesce(sum(n), 0) FROM t WHERE n BETWEEN ?1 AND ?2",
                    params![round * 100 - 2000, round * 100 - 1000],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            writer
                .execute(
                    "DELETE FROM t WHERE n BETWEEN ?1 AND ?2",
                    params![round * 100 - 2000, round * 100 - 1000],
                )
                .unwrap();
            rows -= deleted.0;
            sum -= deleted.1;
        }
    }

    // What the writer's cache says, through each index and the table...
    for (what, sql) in [
        ("table", "SELECT count(*), sum(n) FROM t NOT INDEXED"),
        (
            "key index",
            "SELECT count(*), sum(n) FROM t INDEXED BY t_key WHERE key > ''",
        ),
        (
            "n index",
            "SELECT count(*), sum(n) FROM t INDEXED BY t_n WHERE n > -100",
        ),
    ] {
        let seen: (i64, i64) = writer
            .query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!(seen, (rows, sum), "{what}, read through the writer's cache");
    }
    // ...and the file itself, read by a fresh connection.
    drop(other);
    let fresh = Connection::open(&path).unwrap();
    let check: String = fresh
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let seen: (i64, i64) = fresh
        .query_row("SELECT count(*), sum(n) FROM t", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(seen, (rows, sum), "read back from the file");

    // The cases above really happened.
    let counts = sqlite_page_cache::counts();
    assert!(counts.skipped > 500, "commits skipped the walk: {counts:?}");
    assert!(
        counts.passed_on >= 16 + 26,
        "rollbacks and cache resets were passed on: {counts:?}"
    );
    assert!(
        counts.rekeyed_past_end > 0,
        "B-tree splits renumbered pages past the end: {counts:?}"
    );
}
