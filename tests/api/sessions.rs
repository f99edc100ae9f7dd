//! Study sessions: scheduling, check-in window defaults, broadcast, status.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn session_is_created_with_broadcast_and_default_checkin_window() {
    let (_app, org) = seeded().await;

    let created = org
        .create_session(json!({
            "theme": "Nêu cao tinh thần trách nhiệm, hành động quyết liệt",
            "description": "Học tập trực tuyến từ tỉnh đến xã",
            "host_unit_code": AGENCY,
            "scope_unit_code": PROVINCE,
            "starts_at": "2026-11-23T08:00:00+07:00",
            "ends_at": "2026-11-23T11:30:00+07:00",
            "broadcast": {
                "tv_channel": "Kênh TN1",
                "air_time": "2026-11-23T08:00:00+07:00",
                "stream_url": "https://truyenhinh.example/truc-tiep"
            }
        }))
        .await
        .expect(201);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["status_label"], "đã lên lịch");
    assert_eq!(created["host"]["code"], AGENCY);
    assert_eq!(created["host"]["name"], "Sở Y tế");
    assert_eq!(created["scope"]["code"], PROVINCE);
    assert_eq!(created["starts_at"], "2026-11-23T08:00:00+07:00");
    assert_eq!(created["ends_at"], "2026-11-23T11:30:00+07:00");
    // Check-in opens an hour before the start and closes at the end.
    assert_eq!(created["checkin_opens_at"], "2026-11-23T07:00:00+07:00");
    assert_eq!(created["checkin_closes_at"], "2026-11-23T11:30:00+07:00");
    assert_eq!(created["broadcast"]["tv_channel"], "Kênh TN1");
    assert_eq!(
        created["broadcast"]["air_time"],
        "2026-11-23T08:00:00+07:00"
    );
    assert_eq!(
        created["broadcast"]["stream_url"],
        "https://truyenhinh.example/truc-tiep"
    );
    assert_eq!(created["broadcast"]["recording_url"], json!(null));
    assert_eq!(created["point_count"], 0);

    assert_eq!(org.session(id).await.expect(200), created);
    assert_eq!(org.session_ids().await, [id]);

    // Without a scope, the host's subtree takes part; explicit window kept.
    let local = org
        .create_session(json!({
            "theme": "Sinh hoạt chi bộ chuyên đề",
            "host_unit_code": COMMUNE_A,
            "starts_at": "2026-12-01T14:00:00+07:00",
            "ends_at": "2026-12-01T16:00:00+07:00",
            "checkin_opens_at": "2026-12-01T13:30:00+07:00",
            "checkin_closes_at": "2026-12-01T14:30:00+07:00"
        }))
        .await
        .expect(201);
    assert_eq!(local["scope"]["code"], COMMUNE_A);
    assert_eq!(local["checkin_opens_at"], "2026-12-01T13:30:00+07:00");
    assert_eq!(local["checkin_closes_at"], "2026-12-01T14:30:00+07:00");
    // Newest first.
    assert_eq!(org.session_ids().await, [local["id"].as_i64().unwrap(), id]);
}

#[tokio::test]
async fn times_are_accepted_with_and_without_an_offset() {
    let (_app, org) = seeded().await;
    let mut body = session_body(PROVINCE, PROVINCE);
    // No offset means Vietnam time; UTC and other offsets are converted.
    body["starts_at"] = json!("2026-11-23T08:00");
    body["ends_at"] = json!("2026-11-23T04:00:00Z");
    body["checkin_opens_at"] = json!("2026-11-23 07:15:00");
    body["checkin_closes_at"] = json!("2026-11-23T12:00:00+08:00");
    body["broadcast"] = json!({"air_time": "2026-11-23T20:00"});
    let created = org.create_session(body).await.expect(201);
    assert_eq!(created["starts_at"], "2026-11-23T08:00:00+07:00");
    assert_eq!(created["ends_at"], "2026-11-23T11:00:00+07:00");
    assert_eq!(created["checkin_opens_at"], "2026-11-23T07:15:00+07:00");
    assert_eq!(created["checkin_closes_at"], "2026-11-23T11:00:00+07:00");
    assert_eq!(
        created["broadcast"]["air_time"],
        "2026-11-23T20:00:00+07:00"
    );

    // Editing takes both forms too.
    let id = created["id"].as_i64().unwrap();
    let edited = org
        .patch_session(
            id,
            json!({
                "starts_at": "2026-11-23T01:30:00Z",
                "broadcast": {"air_time": "2026-11-24 06:00"}
            }),
        )
        .await
        .expect(200);
    assert_eq!(edited["starts_at"], "2026-11-23T08:30:00+07:00");
    assert_eq!(edited["broadcast"]["air_time"], "2026-11-24T06:00:00+07:00");
    let bad = org
        .patch_session(id, json!({"broadcast": {"air_time": "tối nay"}}))
        .await
        .error(400, "request.invalid_field");
    assert_eq!(bad["field"], "broadcast.air_time");
}

#[tokio::test]
async fn a_bad_schedule_is_refused_naming_the_field() {
    let (_app, org) = seeded().await;

    let mut ends_first = session_body(PROVINCE, PROVINCE);
    ends_first["ends_at"] = json!("2026-11-23T07:00:00+07:00");
    let error = org
        .create_session(ends_first)
        .await
        .error(400, "session.schedule_invalid");
    assert_eq!(error["field"], "ends_at");

    let mut too_long = session_body(PROVINCE, PROVINCE);
    too_long["ends_at"] = json!("2026-12-23T08:00:00+07:00");
    let error = org
        .create_session(too_long)
        .await
        .error(400, "session.schedule_invalid");
    assert_eq!(error["field"], "ends_at");

    let mut window = session_body(PROVINCE, PROVINCE);
    window["checkin_opens_at"] = json!("2026-11-23T09:00:00+07:00");
    window["checkin_closes_at"] = json!("2026-11-23T08:30:00+07:00");
    let error = org
        .create_session(window)
        .await
        .error(400, "session.window_invalid");
    assert_eq!(error["field"], "checkin_closes_at");

    let mut unreadable = session_body(PROVINCE, PROVINCE);
    unreadable["starts_at"] = json!("23/11/2026 8 giờ");
    let error = org
        .create_session(unreadable)
        .await
        .error(400, "request.invalid_field");
    assert_eq!(error["field"], "starts_at");

    let mut no_theme = session_body(PROVINCE, PROVINCE);
    no_theme["theme"] = json!("  ");
    let error = org
        .create_session(no_theme)
        .await
        .error(400, "session.theme_invalid");
    assert_eq!(error["field"], "theme");

    let unknown_host = org
        .create_session(session_body("KHONG-CO", PROVINCE))
        .await
        .error(404, "unit.not_found");
    assert_eq!(unknown_host["field"], "host_unit_code");

    assert!(org.session_ids().await.is_empty(), "nothing was created");
}

#[tokio::test]
async fn broadcast_addresses_must_be_web_urls() {
    let (_app, org) = seeded().await;
    for (field, bad) in [
        ("stream_url", "ftp://truyenhinh.example/x"),
        ("stream_url", "truyenhinh.example/x"),
        ("recording_url", "https://truyenhinh.example/ghi hinh"),
    ] {
        let mut body = session_body(PROVINCE, PROVINCE);
        body["broadcast"] = json!({ field: bad });
        let error = org
            .create_session(body)
            .await
            .error(400, "session.url_invalid");
        assert_eq!(error["field"], format!("broadcast.{field}"), "{bad}");
    }
    assert!(org.session_ids().await.is_empty());

    // A recording added after the session, by editing it.
    let id = org.new_session(PROVINCE, PROVINCE).await;
    let edited = org
        .patch_session(
            id,
            json!({"broadcast": {"recording_url": "https://truyenhinh.example/ghi-hinh/2026"}}),
        )
        .await
        .expect(200);
    assert_eq!(
        edited["broadcast"]["recording_url"],
        "https://truyenhinh.example/ghi-hinh/2026"
    );
    org.patch_session(
        id,
        json!({"broadcast": {"recording_url": "javascript:alert(1)"}}),
    )
    .await
    .error(400, "session.url_invalid");
}

#[tokio::test]
async fn status_only_moves_forward() {
    let (_app, org) = seeded().await;
    let id = org.new_session(PROVINCE, PROVINCE).await;

    for (next, label) in [
        ("open", "đang mở điểm danh"),
        ("live", "đang diễn ra"),
        ("ended", "đã kết thúc"),
    ] {
        let moved = org.set_status(id, next).await.expect(200);
        assert_eq!(moved["status"], next);
        assert_eq!(moved["status_label"], label);
    }
    for back in ["live", "open", "scheduled", "ended"] {
        org.set_status(id, back)
            .await
            .error(409, "session.status_transition");
    }
    assert_eq!(org.session(id).await.expect(200)["status"], "ended");

    // A step may be skipped, but never taken back.
    let other = org.new_session(PROVINCE, PROVINCE).await;
    org.set_status(other, "live").await.expect(200);
    org.set_status(other, "open")
        .await
        .error(409, "session.status_transition");
    let bad = org
        .set_status(other, "paused")
        .await
        .error(400, "session.status_invalid");
    assert_eq!(bad["field"], "status");

    let live = org
        .get_with("/api/sessions", &[("status", "live")])
        .await
        .expect(200);
    assert_eq!(codes_of_ids(&live), [other]);
}

fn codes_of_ids(list: &serde_json::Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn unknown_sessions_are_not_found() {
    let (_app, org) = seeded().await;
    org.session(999).await.error(404, "session.not_found");
    org.set_status(999, "open")
        .await
        .error(404, "session.not_found");
    org.patch_session(999, json!({"theme": "x"}))
        .await
        .error(404, "session.not_found");
}

#[tokio::test]
async fn the_makeup_threshold_is_set_per_session() {
    let (_app, org) = seeded().await;
    let id = org.open_session(AGENCY, PROVINCE).await;
    let session = org.get(&format!("/api/sessions/{id}")).await.expect(200);
    assert_eq!(session["makeup_threshold"], 0.8);
    let changed = org
        .patch_session(id, json!({"makeup_threshold": 0.9}))
        .await
        .expect(200);
    assert_eq!(changed["makeup_threshold"], 0.9);
    for bad in [0.3, 1.5] {
        org.patch_session(id, json!({"makeup_threshold": bad}))
            .await
            .error(400, "session.threshold_invalid");
    }
    assert_eq!(
        org.get(&format!("/api/sessions/{id}")).await.expect(200)["makeup_threshold"],
        0.9
    );
}
