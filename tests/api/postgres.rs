//! What only PostgreSQL has: its planner on the hot queries before any
//! ANALYZE (a national session's table grows by millions of rows within
//! minutes, faster than autovacuum gathers statistics), and the point
//! counters its triggers keep.

use serde_json::json;

use diemcau::store::Db;
use diemcau::store::checkins::count_at_points_sql;

use crate::helpers::*;

/// Each point's counter (migration 0009) against a count of its live check-ins.
async fn counters_and_counts(db: &Db) -> Vec<(i64, i64, i64)> {
    let Db::Postgres(pool) = db else {
        panic!("a PostgreSQL database")
    };
    sqlx::query_as(
        "SELECT p.id, COALESCE(pc.checked_in, 0), \
         (SELECT count(*) FROM checkins c WHERE c.point_id = p.id AND c.annulled_at IS NULL) \
         FROM points p LEFT JOIN point_checkins pc ON pc.point_id = p.id ORDER BY p.id",
    )
    .fetch_all(pool)
    .await
    .expect("counters")
}

async fn assert_counters_agree(db: &Db, expected: &[i64]) {
    let rows = counters_and_counts(db).await;
    for (point, counter, count) in &rows {
        assert_eq!(
            counter, count,
            "point {point}: counter {counter}, {count} live check-ins"
        );
    }
    let counts: Vec<i64> = rows.iter().map(|r| r.2).collect();
    assert_eq!(counts, expected);
}

#[tokio::test]
async fn point_counters_follow_every_change_to_checkins() {
    let url = fresh_postgres_database(&postgres_admin_url()).await;
    let app = TestApp::start_on(&url).await;
    let org = app.organizer().await;
    org.import_units(TREE_CSV).await.expect(200);
    org.import_members(MEMBERS_CSV).await.expect(200);
    let session = org.open_session(AGENCY, PROVINCE).await;
    let (_, hall) = org.new_point(session, COMMUNE_A, "Hội trường xã").await;
    let (village_id, village) = org.new_point(session, CELL_A, "Nhà văn hóa thôn").await;
    let (hall, village) = (app.operator(&hall), app.operator(&village));
    assert_counters_agree(&app.db, &[0, 0]).await;

    // A batch: three new, one repeated inside it, one already checked in.
    let items = |ids: &[(&str, &str)]| json!({"items": ids.iter().map(|(id, code)| json!({"id": id, "method": "roster", "member_code": code})).collect::<Vec<_>>()});
    let acks = hall
        .post(
            "/api/operator/checkins",
            items(&[
                ("h1", "0012001"),
                ("h2", "0012003"),
                ("h3", "0012005"),
                ("h4", "0012001"),
            ]),
        )
        .await
        .expect(200);
    assert_eq!(acks["stats"]["checked_in"], 3);
    let acks = village
        .post(
            "/api/operator/checkins",
            items(&[("v1", "0012002"), ("v2", "0012003")]),
        )
        .await
        .expect(200);
    assert_eq!(acks["stats"]["checked_in"], 1);
    assert_counters_agree(&app.db, &[3, 1]).await;
    // As a batch of check-ins at many points asks for them.
    let Db::Postgres(pool) = &app.db else {
        unreachable!()
    };
    let hall_id = counters_and_counts(&app.db).await[0].0;
    let sql = app.db.count_at_points_sql(3);
    let mut counted: Vec<(i64, i64)> = sqlx::query_as(&sql)
        .bind(hall_id)
        .bind(village_id)
        .bind(i64::MAX)
        .fetch_all(pool)
        .await
        .expect("counts at three points");
    counted.sort();
    assert_eq!(counted, vec![(hall_id, 3), (village_id, 1)]);

    // Annulled, then checked in again elsewhere.
    hall.post(
        "/api/operator/undo",
        json!({"id": "u1", "member_code": "0012003", "reason": "Nhầm"}),
    )
    .await
    .expect(200);
    assert_counters_agree(&app.db, &[2, 1]).await;
    village
        .post("/api/operator/checkins", items(&[("v3", "0012003")]))
        .await
        .expect(200);
    assert_counters_agree(&app.db, &[2, 2]).await;

    // Statements no request makes: a move between points, a deletion.
    db_i64(&app.db, &format!("WITH m AS (UPDATE checkins SET point_id = {village_id} WHERE point_id <> {village_id} AND annulled_at IS NULL RETURNING 1) SELECT count(*) FROM m")).await;
    assert_counters_agree(&app.db, &[0, 4]).await;
    db_i64(&app.db, &format!("WITH d AS (DELETE FROM checkins WHERE point_id = {village_id} AND annulled_at IS NULL RETURNING 1) SELECT count(*) FROM d")).await;
    assert_counters_agree(&app.db, &[0, 0]).await;
}

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
