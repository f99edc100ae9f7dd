//! PostgreSQL's planner on the hot queries, before any ANALYZE: a national
//! session's table grows by millions of rows within minutes, faster than
//! autovacuum gathers statistics.

use diemcau::store::Db;

use crate::helpers::*;

#[tokio::test]
async fn a_points_count_reads_its_own_entries_not_every_live_checkin() {
    let url = fresh_postgres_database(&postgres_admin_url()).await;
    drop(Db::connect(&url).await.expect("migrations apply"));
    let pool = sqlx::PgPool::connect(&url).await.expect("connects");
    let mut conn = pool.acquire().await.expect("connection");
    // Rows only: the keys they point to do not matter to the plan.
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO checkins (session_id, member_id, point_id, method, taken_at, received_at) \
         SELECT 1, g, g % 40000, 'roster', 0, 0 FROM generate_series(1, 200000) g",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    for query in [
        "SELECT count(*) FROM checkins WHERE point_id = 123 AND annulled_at IS NULL",
        "SELECT point_id, count(*) FROM checkins WHERE annulled_at IS NULL AND point_id IN (1, 2, 3) GROUP BY point_id",
    ] {
        let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {query}"))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("checkins_point"), "{query}:\n{plan}");
        assert!(!plan.contains("checkins_once"), "{query}:\n{plan}");
    }
}
