//! PostgreSQL's planner on the hot queries, before any ANALYZE: a national
//! session's table grows by millions of rows within minutes, faster than
//! autovacuum gathers statistics.

use diemcau::store::Db;
use diemcau::store::checkins::count_at_points_sql;

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
    // Once with one point (a welcome), once with many (a batch's acks).
    for points in [vec![123_i64], (1..=500).collect()] {
        let sql = format!("EXPLAIN {}", count_at_points_sql(points.len()));
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for p in &points {
            query = query.bind(*p);
        }
        let plan = query.fetch_all(&mut *conn).await.unwrap().join("\n");
        assert!(
            plan.contains("checkins_point"),
            "{} points:\n{plan}",
            points.len()
        );
        assert!(
            !plan.contains("checkins_once"),
            "{} points:\n{plan}",
            points.len()
        );
        assert!(
            !plan.contains("Seq Scan on checkins"),
            "{} points:\n{plan}",
            points.len()
        );
    }
}
