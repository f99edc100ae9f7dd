//! The harness: a real server on a real SQLite file in a temporary directory,
//! spoken to over HTTP the way the web pages and API clients do.
//!
//! Every reply goes through [`Api::send`], which fails the test on any 500
//! and checks that every `/api/` error carries the JSON envelope with a code
//! and a Vietnamese message.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use diemcau::config::ServerConfig;
use diemcau::domain::Role;
use diemcau::store::Db;

/// The password of every account the harness creates.
pub const PASSWORD: &str = "Mat-khau-thu-nghiem-2025";
pub const ORGANIZER: &str = "bantochuc";

/// The test tree: a province, two communes each with a cell, an agency.
pub const TREE_CSV: &str = "\
code,name,kind,parent_code
19,Tỉnh Thái Nguyên,province,
05800,Xã Bằng Thành,commune,19
CB-BT1,Chi bộ thôn Nà Lạ,cell,05800
01840,Xã Nghiên Loan,commune,19
CB-NL1,Chi bộ thôn Nà Pài,cell,01840
TN-SYT,Sở Y tế,agency,19
";
pub const TREE_SIZE: i64 = 6;
pub const PROVINCE: &str = "19";
pub const COMMUNE_A: &str = "05800";
pub const CELL_A: &str = "CB-BT1";
pub const COMMUNE_B: &str = "01840";
pub const CELL_B: &str = "CB-NL1";
pub const AGENCY: &str = "TN-SYT";

pub const MEMBERS_CSV: &str = "\
member_code,full_name,category,unit_code
0012001,Nguyễn Văn A,party_member,05800
0012002,Trần Văn Bình,party_member,CB-BT1
0012003,Lê Văn An,cadre,05800
0012004,Phạm Thị Ánh,civil_servant,CB-BT1
0012005,Hoàng Minh Đức,worker,05800
0023001,Đặng Thị Hoa,party_member,01840
0023002,Vũ Văn Nam,party_member,CB-NL1
0031001,Ngô Văn Tâm,public_employee,TN-SYT
";
pub const MEMBER_COUNT: i64 = 8;
/// Members in commune A's subtree (the commune and its cell).
pub const MEMBERS_OF_A: [&str; 5] = ["0012001", "0012002", "0012003", "0012004", "0012005"];
/// Members in commune B's subtree.
pub const MEMBERS_OF_B: [&str; 2] = ["0023001", "0023002"];

/// Every unit kind, to count the whole tree with `?kind=`.
pub const UNIT_KINDS: [&str; 9] = [
    "province",
    "district",
    "commune",
    "ward",
    "special_zone",
    "party_committee",
    "agency",
    "cell",
    "other",
];

/// A running server with its own database file.
pub struct TestApp {
    pub base_url: String,
    /// The server's database, for setup only (accounts, the demo).
    pub db: Db,
    http: Client,
    /// Dropping it stops the server.
    _stop: oneshot::Sender<()>,
    _dir: Option<TempDir>,
}

/// A fresh, empty database for one test: a SQLite file in `dir`, or — when
/// `DIEMCAU_TEST_DATABASE_URL` names a PostgreSQL server — a new database on
/// it. The whole suite runs on each backend this way; a PostgreSQL run that
/// cannot reach its server fails, it never falls back to SQLite.
pub async fn fresh_database_url(dir: &TempDir) -> String {
    match std::env::var("DIEMCAU_TEST_DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => fresh_postgres_database(&admin).await,
        _ => format!("sqlite://{}/t.db", dir.path().display()),
    }
}

/// The PostgreSQL server tests use when they need one whatever the run's
/// backend (several instances sharing a database).
pub fn postgres_admin_url() -> String {
    match std::env::var("DIEMCAU_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => url,
        _ => std::env::var("DIEMCAU_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string()),
    }
}

/// Creates a new, empty database on the server of `admin` and returns its URL.
pub async fn fresh_postgres_database(admin: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is not reachable: {e}"));
    let name = format!(
        "diemcau_test_{}",
        &diemcau::security::new_secret()
            .to_lowercase()
            .replace(['-', '_'], "")[..16]
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let (base, _) = admin
        .rsplit_once('/')
        .expect("database URL has a database name");
    format!("{base}/{name}")
}

impl TestApp {
    /// A server on a fresh database (see [`fresh_database_url`]).
    pub async fn start() -> TestApp {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = fresh_database_url(&dir).await;
        let mut app = TestApp::start_on(&url).await;
        app._dir = Some(dir);
        app
    }

    /// A server on an existing database (e.g. one the CLI wrote).
    pub async fn start_on(database_url: &str) -> TestApp {
        let db = Db::connect(database_url).await.expect("database opens");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let config = ServerConfig::new(&base_url, true);
        let server = diemcau::run(config, db.clone(), listener, None, async move {
            let _ = stopped.await;
        });
        tokio::spawn(async move { server.await.expect("server runs") });
        TestApp {
            base_url,
            db,
            http: Client::new(),
            _stop: stop,
            _dir: None,
        }
    }

    /// Creates an account straight in the database, with [`PASSWORD`].
    pub async fn add_account(&self, username: &str, role: Role, unit_code: Option<&str>) -> i64 {
        let unit_id = match unit_code {
            Some(code) => Some(
                self.db
                    .unit_by_code(code)
                    .await
                    .expect("query")
                    .unwrap_or_else(|| panic!("unit {code} exists"))
                    .id,
            ),
            None => None,
        };
        let hash = diemcau::security::hash_password(PASSWORD.to_string())
            .await
            .expect("hash");
        self.db
            .create_account(username, username, &hash, role, unit_id)
            .await
            .expect("account created")
    }

    /// No credentials at all.
    pub fn anonymous(&self) -> Api {
        Api {
            base_url: self.base_url.clone(),
            client: self.http.clone(),
            auth: Auth::None,
        }
    }

    /// A point operator holding the secret of an operator link.
    pub fn operator(&self, secret: &str) -> Api {
        Api {
            auth: Auth::Operator(secret.to_string()),
            ..self.anonymous()
        }
    }

    /// `POST /api/auth/login` on a client with a cookie store.
    pub async fn try_login(&self, username: &str, password: &str) -> (Api, Reply) {
        let client = Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        let mut api = Api {
            base_url: self.base_url.clone(),
            client,
            auth: Auth::Cookie { csrf: None },
        };
        let reply = api
            .post(
                "/api/auth/login",
                json!({"username": username, "password": password}),
            )
            .await;
        if reply.status == StatusCode::OK {
            let csrf = reply.json["csrf_token"].as_str().expect("csrf_token");
            api.auth = Auth::Cookie {
                csrf: Some(csrf.to_string()),
            };
        }
        (api, reply)
    }

    /// A web session (cookie + CSRF token) of `username`.
    pub async fn login(&self, username: &str) -> Api {
        let (api, reply) = self.try_login(username, PASSWORD).await;
        reply.expect(200);
        api
    }

    /// An API client of `username`: signs in, then makes a bearer token.
    pub async fn bearer(&self, username: &str) -> Api {
        let web = self.login(username).await;
        let created = web
            .post("/api/auth/tokens", json!({"name": "Kiểm thử tự động"}))
            .await
            .expect(201);
        Api {
            auth: Auth::Bearer(created["token"].as_str().expect("token").to_string()),
            ..self.anonymous()
        }
    }

    /// Creates the organizer account and returns its API client.
    pub async fn organizer(&self) -> Api {
        self.add_account(ORGANIZER, Role::Organizer, None).await;
        self.bearer(ORGANIZER).await
    }

    /// Creates a manager of `unit_code` and returns (account id, API client).
    pub async fn manager(&self, username: &str, unit_code: &str) -> (i64, Api) {
        let id = self
            .add_account(username, Role::Manager, Some(unit_code))
            .await;
        (id, self.bearer(username).await)
    }
}

/// A server with the test tree and rosters, and its organizer.
pub async fn seeded() -> (TestApp, Api) {
    let app = TestApp::start().await;
    let org = app.organizer().await;
    let units = org.import_units(TREE_CSV).await.expect(200);
    assert_eq!(units["created"], TREE_SIZE);
    let members = org.import_members(MEMBERS_CSV).await.expect(200);
    assert_eq!(members["created"], MEMBER_COUNT);
    (app, org)
}

/// The seeded server plus a manager of each commune.
pub struct TwoCommunes {
    pub app: TestApp,
    pub org: Api,
    pub a: Api,
    pub a_id: i64,
    pub b: Api,
    pub b_id: i64,
}

pub async fn two_communes() -> TwoCommunes {
    let (app, org) = seeded().await;
    let (a_id, a) = app.manager("quanly.bangthanh", COMMUNE_A).await;
    let (b_id, b) = app.manager("quanly.nghienloan", COMMUNE_B).await;
    TwoCommunes {
        app,
        org,
        a,
        a_id,
        b,
        b_id,
    }
}

#[derive(Clone)]
enum Auth {
    None,
    Bearer(String),
    /// Cookie session; the CSRF token is sent on changes when present.
    Cookie {
        csrf: Option<String>,
    },
    Operator(String),
}

/// A client of the API as one caller.
#[derive(Clone)]
pub struct Api {
    base_url: String,
    client: Client,
    auth: Auth,
}

/// A reply, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
    what: String,
}

impl Reply {
    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{} answered {}: {}",
            self.what,
            self.status,
            self.text
        );
        self.json
    }

    /// Asserts an error status and code; returns the `error` object.
    #[track_caller]
    pub fn error(self, status: u16, code: &str) -> Value {
        let what = self.what.clone();
        let body = self.expect(status);
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        body["error"].clone()
    }

    /// Asserts a 400 `import.rejected` and returns its problems as (line, code).
    #[track_caller]
    pub fn import_problems(self) -> Vec<(u64, String)> {
        let error = self.error(400, "import.rejected");
        error["problems"]
            .as_array()
            .expect("problems listed")
            .iter()
            .map(|p| {
                (
                    p["line"].as_u64().expect("line"),
                    p["code"].as_str().expect("code").to_string(),
                )
            })
            .collect()
    }
}

impl Api {
    /// The same session, but forgetting to send the CSRF header.
    pub fn without_csrf(&self) -> Api {
        Api {
            auth: Auth::Cookie { csrf: None },
            ..self.clone()
        }
    }

    /// A request with this caller's credentials.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self
            .client
            .request(method.clone(), format!("{}{path}", self.base_url));
        match &self.auth {
            Auth::None => rb,
            Auth::Bearer(token) => rb.header(AUTHORIZATION, format!("Bearer {token}")),
            Auth::Operator(secret) => rb.header(AUTHORIZATION, format!("Operator {secret}")),
            Auth::Cookie { csrf: Some(csrf) } if method != Method::GET => {
                rb.header("X-CSRF-Token", csrf)
            }
            Auth::Cookie { .. } => rb,
        }
    }

    /// Sends a request and checks what every reply must satisfy.
    pub async fn send(&self, rb: RequestBuilder) -> Reply {
        let request = rb.build().expect("request builds");
        let what = format!("{} {}", request.method(), request.url().path());
        let is_api = request.url().path().starts_with("/api/");
        let response = self
            .client
            .execute(request)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(
            !status.is_server_error(),
            "{what} answered {status}: {text}"
        );
        if is_api && status.is_client_error() {
            check_envelope(&what, &json, &text);
        }
        Reply {
            status,
            headers,
            text,
            json,
            what,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn get_with(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.send(self.request(Method::GET, path).query(query))
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.request(Method::POST, path).json(&body))
            .await
    }

    pub async fn post_empty(&self, path: &str) -> Reply {
        self.send(self.request(Method::POST, path)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(self.request(Method::PATCH, path).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(Method::DELETE, path)).await
    }

    pub async fn post_csv(&self, path: &str, csv: impl Into<Vec<u8>>) -> Reply {
        let rb = self
            .request(Method::POST, path)
            .header(CONTENT_TYPE, "text/csv; charset=utf-8")
            .body(csv.into());
        self.send(rb).await
    }

    // Units.

    pub async fn import_units(&self, csv: impl Into<Vec<u8>>) -> Reply {
        self.post_csv("/api/units/import", csv).await
    }

    pub async fn units(&self, query: &[(&str, &str)]) -> Reply {
        self.get_with("/api/units", query).await
    }

    pub async fn unit(&self, code: &str) -> Reply {
        self.get(&format!("/api/units/{code}")).await
    }

    pub async fn create_unit(&self, body: Value) -> Reply {
        self.post("/api/units", body).await
    }

    pub async fn patch_unit(&self, code: &str, body: Value) -> Reply {
        self.patch(&format!("/api/units/{code}"), body).await
    }

    pub async fn delete_unit(&self, code: &str) -> Reply {
        self.delete(&format!("/api/units/{code}")).await
    }

    /// Codes of a unit listing, in order.
    pub async fn unit_codes(&self, query: &[(&str, &str)]) -> Vec<String> {
        codes(&self.units(query).await.expect(200)["items"], "code")
    }

    /// How many units the caller can see, counted kind by kind.
    pub async fn unit_count(&self) -> i64 {
        let mut total = 0;
        for kind in UNIT_KINDS {
            let page = self
                .units(&[("kind", kind), ("limit", "1")])
                .await
                .expect(200);
            total += page["total"].as_i64().expect("total");
        }
        total
    }

    // Members.

    pub async fn import_members(&self, csv: impl Into<Vec<u8>>) -> Reply {
        self.post_csv("/api/members/import", csv).await
    }

    pub async fn members(&self, query: &[(&str, &str)]) -> Reply {
        self.get_with("/api/members", query).await
    }

    /// Member codes of a listing (up to 500), in order.
    pub async fn member_codes(&self, query: &[(&str, &str)]) -> Vec<String> {
        let mut query = query.to_vec();
        query.push(("limit", "500"));
        codes(&self.members(&query).await.expect(200)["items"], "code")
    }

    pub async fn member(&self, code: &str) -> Reply {
        self.get(&format!("/api/members/{code}")).await
    }

    pub async fn create_member(&self, body: Value) -> Reply {
        self.post("/api/members", body).await
    }

    pub async fn patch_member(&self, code: &str, body: Value) -> Reply {
        self.patch(&format!("/api/members/{code}"), body).await
    }

    pub async fn delete_member(&self, code: &str) -> Reply {
        self.delete(&format!("/api/members/{code}")).await
    }

    // Sessions.

    pub async fn create_session(&self, body: Value) -> Reply {
        self.post("/api/sessions", body).await
    }

    /// Creates a session (asserting 201) and returns its id.
    pub async fn new_session(&self, host: &str, scope: &str) -> i64 {
        self.create_session(session_body(host, scope))
            .await
            .expect(201)["id"]
            .as_i64()
            .expect("id")
    }

    pub async fn session(&self, id: i64) -> Reply {
        self.get(&format!("/api/sessions/{id}")).await
    }

    /// Ids of `GET /api/sessions`.
    pub async fn session_ids(&self) -> Vec<i64> {
        self.get("/api/sessions")
            .await
            .expect(200)
            .as_array()
            .expect("list")
            .iter()
            .map(|s| s["id"].as_i64().expect("id"))
            .collect()
    }

    pub async fn patch_session(&self, id: i64, body: Value) -> Reply {
        self.patch(&format!("/api/sessions/{id}"), body).await
    }

    pub async fn set_status(&self, id: i64, status: &str) -> Reply {
        self.post(
            &format!("/api/sessions/{id}/status"),
            json!({"status": status}),
        )
        .await
    }

    // Points.

    pub async fn create_point(&self, session_id: i64, body: Value) -> Reply {
        self.post(&format!("/api/sessions/{session_id}/points"), body)
            .await
    }

    /// Registers a point (asserting 201); returns (point id, operator secret).
    pub async fn new_point(&self, session_id: i64, unit_code: &str, name: &str) -> (i64, String) {
        let created = self
            .create_point(session_id, point_body(unit_code, name))
            .await
            .expect(201);
        let id = created["point"]["id"].as_i64().expect("id");
        let secret = secret_of(created["operator_link"].as_str().expect("link"));
        (id, secret)
    }

    pub async fn points(&self, session_id: i64) -> Reply {
        self.get(&format!("/api/sessions/{session_id}/points"))
            .await
    }

    pub async fn point(&self, id: i64) -> Reply {
        self.get(&format!("/api/points/{id}")).await
    }

    pub async fn patch_point(&self, id: i64, body: Value) -> Reply {
        self.patch(&format!("/api/points/{id}"), body).await
    }

    pub async fn delete_point(&self, id: i64) -> Reply {
        self.delete(&format!("/api/points/{id}")).await
    }

    pub async fn rotate_link(&self, point_id: i64) -> Reply {
        self.post_empty(&format!("/api/points/{point_id}/operator-link"))
            .await
    }

    pub async fn revoke_link(&self, point_id: i64) -> Reply {
        self.delete(&format!("/api/points/{point_id}/operator-link"))
            .await
    }

    /// `GET /api/operator/point` (for an [`TestApp::operator`] client).
    pub async fn operator_point(&self) -> Reply {
        self.get("/api/operator/point").await
    }

    // Accounts and sign-in.

    pub async fn me(&self) -> Reply {
        self.get("/api/auth/me").await
    }

    pub async fn accounts(&self) -> Reply {
        self.get("/api/accounts").await
    }

    pub async fn account(&self, id: i64) -> Reply {
        self.get(&format!("/api/accounts/{id}")).await
    }

    pub async fn create_account(&self, body: Value) -> Reply {
        self.post("/api/accounts", body).await
    }

    pub async fn patch_account(&self, id: i64, body: Value) -> Reply {
        self.patch(&format!("/api/accounts/{id}"), body).await
    }
}

/// A session body: 08:00–11:00 on 23 Nov 2026, Vietnam time.
pub fn session_body(host: &str, scope: &str) -> Value {
    json!({
        "theme": "Học tập chuyên đề năm 2026",
        "host_unit_code": host,
        "scope_unit_code": scope,
        "starts_at": "2026-11-23T08:00:00+07:00",
        "ends_at": "2026-11-23T11:00:00+07:00",
    })
}

pub fn point_body(unit_code: &str, name: &str) -> Value {
    json!({"unit_code": unit_code, "name": name, "operator_phone": "0912345678"})
}

/// The secret in an operator link: what follows `#`.
pub fn secret_of(link: &str) -> String {
    let (_, secret) = link
        .split_once("/diem-cau#")
        .unwrap_or_else(|| panic!("operator link {link:?} has /diem-cau#"));
    assert!(!secret.is_empty(), "operator link {link:?} has a secret");
    secret.to_string()
}

/// The `key` field of every item of a JSON array.
pub fn codes(items: &Value, key: &str) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {items}"))
        .iter()
        .map(|i| i[key].as_str().expect("string field").to_string())
        .collect()
}

/// Every API error: `{"error": {"code", "message", …}}`, message in Vietnamese.
fn check_envelope(what: &str, json: &Value, text: &str) {
    let code = json["error"]["code"].as_str().unwrap_or("");
    let message = json["error"]["message"].as_str().unwrap_or("");
    assert!(!code.is_empty(), "{what}: error without error.code: {text}");
    assert!(
        !message.trim().is_empty(),
        "{what}: error without error.message: {text}"
    );
    // Vietnamese is written with diacritics; an English message would have none.
    assert!(
        !message.is_ascii(),
        "{what}: error message is not Vietnamese: {message}"
    );
}

// Check-in and console helpers (used by checkin.rs and console.rs).

/// A session whose check-in window is open now: it began 30 minutes ago and
/// ends in two hours (check-in opens an hour before the start).
pub fn session_now_body(host: &str, scope: &str) -> Value {
    let now = chrono::Utc::now();
    let at = |minutes: i64| {
        diemcau::domain::time::to_local(
            (now + chrono::Duration::minutes(minutes)).timestamp_millis(),
        )
        .to_rfc3339()
    };
    json!({
        "theme": "Học tập chuyên đề: Nêu cao tinh thần trách nhiệm",
        "host_unit_code": host,
        "scope_unit_code": scope,
        "starts_at": at(-30),
        "ends_at": at(120),
    })
}

impl Api {
    /// Creates a session running now and opens check-in; returns its id.
    pub async fn open_session(&self, host: &str, scope: &str) -> i64 {
        let id = self
            .create_session(session_now_body(host, scope))
            .await
            .expect(201)["id"]
            .as_i64()
            .expect("id");
        self.set_status(id, "open").await.expect(200);
        id
    }
}

impl TestApp {
    /// A server like [`TestApp::start`], with the sender that stops it:
    /// dropping (or sending on) it begins a graceful shutdown.
    pub async fn start_stoppable() -> (TestApp, oneshot::Sender<()>) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = fresh_database_url(&dir).await;
        let db = Db::connect(&url).await.expect("database opens");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let config = ServerConfig::new(&base_url, true);
        let server = diemcau::run(config, db.clone(), listener, None, async move {
            let _ = stopped.await;
        });
        tokio::spawn(async move { server.await.expect("server runs") });
        let (unused, _) = oneshot::channel::<()>();
        let app = TestApp {
            base_url,
            db,
            http: Client::new(),
            _stop: unused,
            _dir: Some(dir),
        };
        (app, stop)
    }

    /// The server's key for point QR tokens (from the database).
    pub async fn qr_key(&self) -> Vec<u8> {
        use base64::Engine;
        let key = self.db.meta_get("qr_key").await.expect("query");
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key.expect("qr_key stored"))
            .expect("qr_key is base64url")
    }

    /// The server's member-card signer (from the database).
    pub async fn card_signer(&self) -> diemcau::domain::tokens::CardSigner {
        use base64::Engine;
        let key = self.db.meta_get("card_key").await.expect("query");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key.expect("card_key stored"))
            .expect("card_key is base64url");
        diemcau::domain::tokens::CardSigner::from_bytes(&bytes).expect("a P-256 key")
    }

    /// The console WebSocket address for a ticket and protocol version.
    pub fn console_url(&self, ticket: &str, version: u32) -> String {
        format!(
            "{}/api/operator/ws?ticket={ticket}&v={version}",
            self.base_url.replacen("http://", "ws://", 1)
        )
    }
}

// Live figures and public side helpers (used by live.rs and public.rs).

impl Api {
    /// The token an API client made by [`TestApp::bearer`] sends, for
    /// requests the harness does not make itself (a WebSocket handshake).
    pub fn bearer_token(&self) -> Option<&str> {
        match &self.auth {
            Auth::Bearer(token) => Some(token),
            _ => None,
        }
    }

    /// `GET /api/sessions/{id}/tally`, of `unit` when given.
    pub async fn tally(&self, session_id: i64, unit: Option<&str>) -> Reply {
        let path = format!("/api/sessions/{session_id}/tally");
        match unit {
            Some(code) => self.get_with(&path, &[("unit", code)]).await,
            None => self.get(&path).await,
        }
    }
}

impl TestApp {
    /// The dashboard WebSocket address of a session.
    pub fn live_url(&self, session_id: i64) -> String {
        format!(
            "{}/api/sessions/{session_id}/live",
            self.base_url.replacen("http://", "ws://", 1)
        )
    }
}

// After-the-session helpers (used by reports.rs, makeup.rs, webhooks.rs and
// retention.rs).

/// A reply whose body is kept as bytes (CSV with its BOM, XLSX).
#[derive(Debug)]
pub struct RawReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl RawReply {
    /// Asserts the status and the start of the content type; returns the body.
    #[track_caller]
    pub fn expect(self, status: u16, content_type: &str) -> Vec<u8> {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(&self.bytes)
        );
        let got = self.headers[reqwest::header::CONTENT_TYPE]
            .to_str()
            .expect("content type");
        assert!(got.starts_with(content_type), "content type {got}");
        self.bytes
    }
}

impl Api {
    /// A GET whose body is read as bytes, as a spreadsheet program gets it.
    pub async fn get_raw(&self, path: &str, query: &[(&str, &str)]) -> RawReply {
        let response = self
            .request(Method::GET, path)
            .query(query)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body").to_vec();
        assert!(
            !status.is_server_error(),
            "GET {path} answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        RawReply {
            status,
            headers,
            bytes,
        }
    }

    /// `GET /api/sessions/{id}/report` as JSON, of `unit` when given.
    pub async fn report(&self, session_id: i64, unit: Option<&str>) -> Reply {
        let path = format!("/api/sessions/{session_id}/report");
        match unit {
            Some(code) => self.get_with(&path, &[("unit", code)]).await,
            None => self.get(&path).await,
        }
    }

    /// `GET /api/sessions/{id}/absentees` as JSON, of `unit` when given.
    pub async fn absentees(&self, session_id: i64, unit: Option<&str>) -> Reply {
        let path = format!("/api/sessions/{session_id}/absentees");
        match unit {
            Some(code) => self.get_with(&path, &[("unit", code)]).await,
            None => self.get(&path).await,
        }
    }

    /// `PATCH /api/sessions/{id}` giving the session its recording.
    pub async fn set_recording(&self, session_id: i64, url: &str) {
        let view = self
            .patch_session(session_id, json!({"broadcast": {"recording_url": url}}))
            .await
            .expect(200);
        assert_eq!(view["broadcast"]["recording_url"], url, "{view}");
    }
}

/// Runs a query answering one integer (a count).
pub async fn db_i64(db: &Db, sql: &str) -> i64 {
    diemcau::on_pool!(db, |pool| sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await)
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The token of a personal make-up link (`…/hoc-bu/<token>`).
pub fn makeup_token_of(link: &str) -> String {
    let (_, token) = link
        .split_once("/hoc-bu/")
        .unwrap_or_else(|| panic!("make-up link {link:?} has /hoc-bu/"));
    assert!(!token.is_empty(), "{link}");
    token.to_string()
}

impl TestApp {
    /// Moves the previous make-up report of a member back in time, as if
    /// they had been watching for that long since.
    pub async fn backdate_makeup(&self, session_id: i64, member_code: &str, ms: i64) {
        let changed = diemcau::on_pool!(&self.db, |pool| sqlx::query(
            "UPDATE makeup_progress SET last_report_at = last_report_at - $1 \
             WHERE session_id = $2 AND member_id = (SELECT id FROM members WHERE code = $3)"
        )
        .bind(ms)
        .bind(session_id)
        .bind(member_code)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .expect("backdate make-up progress");
        assert_eq!(changed, 1, "make-up progress of {member_code} exists");
    }

    /// `POST /api/makeup/{token}/progress`, asserting 200.
    pub async fn makeup_report(&self, token: &str, body: Value) -> Value {
        self.anonymous()
            .post(&format!("/api/makeup/{token}/progress"), body)
            .await
            .expect(200)
    }

    /// A member watches the whole recording (`duration_s` long) from the
    /// link's token: a first report, then — an hour and a half later — the rest.
    pub async fn watch_recording(
        &self,
        session_id: i64,
        member_code: &str,
        token: &str,
        duration_s: f64,
    ) -> Value {
        let first = self
            .makeup_report(
                token,
                json!({"duration_s": duration_s, "intervals": [[0.0, 10.0]], "position_s": 10.0}),
            )
            .await;
        assert_eq!(first["progress"]["completed"], false, "{first}");
        self.backdate_makeup(session_id, member_code, 3 * 3_600_000)
            .await;
        let done = self
            .makeup_report(
                token,
                json!({"duration_s": duration_s, "intervals": [[0.0, duration_s]], "position_s": duration_s}),
            )
            .await;
        assert_eq!(done["progress"]["completed"], true, "{done}");
        assert_eq!(done["studied"]["method"], "makeup", "{done}");
        done
    }

    /// Opens the point's console over WebSocket, waits for its `welcome`,
    /// and closes it: the point has connected.
    pub async fn connect_console_once(&self, op: &Api) {
        use futures_util::StreamExt;
        let ticket = op.post_empty("/api/operator/ws-ticket").await.expect(200)["ticket"]
            .as_str()
            .expect("ticket")
            .to_string();
        let (mut ws, _) = tokio_tungstenite::connect_async(self.console_url(&ticket, 1))
            .await
            .expect("console connects");
        loop {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
                .await
                .expect("welcome within 10 s")
                .expect("connection open")
                .expect("a frame");
            if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
                let v: Value = serde_json::from_str(text.as_str()).expect("JSON");
                assert_eq!(v["type"], "welcome", "{v}");
                break;
            }
        }
        ws.close(None).await.expect("closed");
    }

    /// A server on an existing database that can be stopped and waited for
    /// (the database is left as it is): stop with the sender, then await
    /// the handle.
    pub async fn start_on_joinable(
        database_url: &str,
    ) -> (TestApp, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let db = Db::connect(database_url).await.expect("database opens");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let config = ServerConfig::new(&base_url, true);
        let server = diemcau::run(config, db.clone(), listener, None, async move {
            let _ = stopped.await;
        });
        let handle = tokio::spawn(async move { server.await.expect("server runs") });
        let (unused, _) = oneshot::channel::<()>();
        let app = TestApp {
            base_url,
            db,
            http: Client::new(),
            _stop: unused,
            _dir: None,
        };
        (app, stop, handle)
    }
}

// Several instances (used by cluster.rs).

impl Api {
    /// The same credentials, speaking to another server (instance).
    pub fn at(&self, base_url: &str) -> Api {
        Api {
            base_url: base_url.to_string(),
            client: self.client.clone(),
            auth: self.auth.clone(),
        }
    }
}

/// An anonymous client of a server started elsewhere (another process).
pub fn remote_api(base_url: &str) -> Api {
    Api {
        base_url: base_url.to_string(),
        client: Client::new(),
        auth: Auth::None,
    }
}

impl Api {
    /// The same server, as the point operator holding `secret`.
    pub fn as_operator(&self, secret: &str) -> Api {
        Api {
            auth: Auth::Operator(secret.to_string()),
            ..self.clone()
        }
    }

    /// Signs `username` in on this server and returns its bearer-token client.
    pub async fn sign_in_bearer(&self, username: &str) -> Api {
        let login = Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        let mut web = Api {
            base_url: self.base_url.clone(),
            client: login,
            auth: Auth::Cookie { csrf: None },
        };
        let reply = web
            .post(
                "/api/auth/login",
                json!({"username": username, "password": PASSWORD}),
            )
            .await
            .expect(200);
        web.auth = Auth::Cookie {
            csrf: Some(reply["csrf_token"].as_str().expect("csrf").to_string()),
        };
        let created = web
            .post(
                "/api/auth/tokens",
                json!({"name": "Kiểm thử nhiều máy chủ"}),
            )
            .await
            .expect(201);
        Api {
            base_url: self.base_url.clone(),
            client: Client::new(),
            auth: Auth::Bearer(created["token"].as_str().expect("token").to_string()),
        }
    }
}

// Server processes (used by cluster.rs and crash.rs).

use std::io::BufRead as _;

/// A `diemcau serve` process; killed (SIGKILL) when dropped.
pub struct Instance {
    child: std::process::Child,
    pub base_url: String,
}

impl Instance {
    pub fn start(database_url: &str) -> Instance {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_diemcau"))
            .args([
                "serve",
                "--database-url",
                database_url,
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("diemcau starts");
        // The banner prints the address once the listener is bound.
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut base_url = None;
        for line in lines.by_ref() {
            let line = line.expect("banner line");
            if let Some(at) = line.find("http://127.0.0.1:") {
                let url = line[at..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/');
                base_url = Some(url.to_string());
                break;
            }
        }
        // Keep reading, or the server dies writing the rest to a closed pipe.
        std::thread::spawn(move || for _ in lines {});
        Instance {
            child,
            base_url: base_url.expect("the banner names the address"),
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `probe` until it returns true, for at most `limit`.
pub async fn eventually<F, Fut>(limit: std::time::Duration, mut probe: F) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    loop {
        if probe().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not reached within {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

impl Api {
    /// A POST that may fail at the transport level (the server was killed):
    /// the body on success, None on any failure.
    pub async fn try_post(&self, path: &str, body: Value) -> Option<Value> {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base_url))
            .json(&body);
        if let Auth::Operator(secret) = &self.auth {
            req = req.header(AUTHORIZATION, format!("Operator {secret}"));
        }
        let res = req.send().await.ok()?;
        if !res.status().is_success() {
            return None;
        }
        res.json().await.ok()
    }
}
