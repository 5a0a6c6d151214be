//! The Share API client against a small local server standing in for Microshare (127.0.0.1 only;
//! it runs on the test's runtime and stops with it).

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use lorafield_microshare::Secret;
use lorafield_microshare::adaptive::Signal;
use lorafield_microshare::client::{
    Client, ClientConfig, ClientError, Credentials, Endpoints, Page,
};
use lorafield_microshare::worker::{Cause, Deliver, DeliveryError};
use tokio::net::TcpListener;

const USERNAME: &str = "ops@example.com";
const PASSWORD: &str = "p@ss w&rd=/+Hunter2";
const API_KEY: &str = "APIKEY-0F1E2D3C-secret";
const PIPE_TOKEN: &str = "pipe-TOKEN-9a8b7c";

/// A request the server saw.
#[derive(Clone)]
struct Seen {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
    /// How many requests to the same path came before this one.
    nth: usize,
}

impl Seen {
    fn bearer(&self) -> &str {
        self.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn is_token(&self) -> bool {
        self.path == "/oauth2/token"
    }
}

/// What the server answers.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

impl Reply {
    fn new(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_string()));
        self
    }

    /// A token answer numbered by how many token requests came before.
    fn token(seen: &Seen) -> Reply {
        let n = seen.nth + 1;
        Reply::new(
            200,
            format!(
                r#"{{"access_token":"tok-{n}-SECRET","token_type":"bearer","expires_in":172800}}"#
            ),
        )
    }

    fn posted() -> Reply {
        Reply::new(
            200,
            r#"{"meta":{"totalPages":0,"currentPage":1},"objs":[{"id":"59238b9346e0fb0352c2948b","recType":"io.example.test"}]}"#,
        )
    }
}

type Script = dyn Fn(&Seen) -> Reply + Send + Sync;

struct Shared {
    seen: Mutex<Vec<Seen>>,
    script: Box<Script>,
}

struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Server {
    async fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
        let shared = Arc::new(Shared {
            seen: Mutex::new(Vec::new()),
            script: Box::new(script),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // On the test's runtime: it ends with the test.
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server { addr, shared }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn client(&self, credentials: Credentials) -> Client {
        client_for(&self.base(), credentials, Duration::from_secs(5))
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    fn token_requests(&self) -> usize {
        self.seen().iter().filter(|s| s.is_token()).count()
    }

    fn api_requests(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| !s.is_token()).collect()
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = {
        let mut seen = shared.seen.lock().unwrap();
        let path = uri.path().to_string();
        let nth = seen.iter().filter(|s| s.path == path).count();
        let request = Seen {
            method,
            path,
            query: uri.query().unwrap_or("").to_string(),
            headers,
            body,
            nth,
        };
        let reply = (shared.script)(&request);
        seen.push(request);
        reply
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

fn password() -> Credentials {
    Credentials::Password {
        username: USERNAME.into(),
        password: Secret::new(PASSWORD),
        api_key: Secret::new(API_KEY),
    }
}

fn pipe() -> Credentials {
    Credentials::Pipe(Secret::new(PIPE_TOKEN))
}

fn client_for(base: &str, credentials: Credentials, timeout: Duration) -> Client {
    let mut config = ClientConfig::new(Endpoints::same(base), credentials);
    config.timeout = timeout;
    Client::new(config).unwrap()
}

fn tags(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| t.to_string()).collect()
}

/// Token requests issue `tok-N-SECRET`; the API accepts any token but `rejected`.
fn accepting_all_but(rejected: &'static str) -> impl Fn(&Seen) -> Reply + Send + Sync {
    move |seen| {
        if seen.is_token() {
            Reply::token(seen)
        } else if seen.bearer() == rejected {
            Reply::new(401, r#"{"error":"invalid_token"}"#)
        } else {
            Reply::posted()
        }
    }
}

fn expect_retry(error: DeliveryError, after: Option<Duration>) {
    match error {
        DeliveryError::Retry { after: a, .. } if a == after => {}
        other => panic!("expected Retry after {after:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn fetches_the_token_with_the_right_query() {
    let server = Server::start(accepting_all_but("")).await;
    let client = server.client(password());
    client.token().await.unwrap();

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let token = &seen[0];
    assert_eq!(token.method, Method::POST);
    assert_eq!(token.path, "/oauth2/token");
    assert!(token.body.is_empty());
    assert_eq!(
        token.query,
        "username=ops%40example.com&password=p%40ss%20w%26rd%3D%2F%2BHunter2\
         &client_id=APIKEY-0F1E2D3C-secret&grant_type=password&scope=ALL%3AALL"
    );
    let url = reqwest::Url::parse(&format!("http://x/?{}", token.query)).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let expected = [
        ("username", USERNAME),
        ("password", PASSWORD),
        ("client_id", API_KEY),
        ("grant_type", "password"),
        ("scope", "ALL:ALL"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(pairs, expected);

    // The kept token is used: no second token request.
    client
        .post_share("io.example.test", &[], b"{}")
        .await
        .unwrap();
    assert_eq!(server.token_requests(), 1);
    assert_eq!(server.api_requests()[0].bearer(), "Bearer tok-1-SECRET");
}

#[tokio::test]
async fn posts_the_body_verbatim_with_encoded_tags() {
    let server = Server::start(accepting_all_but("")).await;
    let client = server.client(password());
    let body = "{ \"b\":1,\n  \"a\": \"ü\u{2603}\", \"n\": 1.10 }";
    let posted = client
        .post_share(
            "io.example.test",
            &tags(&["a b/c", "", "plain", "é?#"]),
            body.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(posted.id.as_deref(), Some("59238b9346e0fb0352c2948b"));

    let seen = server.api_requests();
    assert_eq!(seen.len(), 1);
    let post = &seen[0];
    assert_eq!(post.method, Method::POST);
    assert_eq!(
        post.path,
        "/share/io.example.test/tags/a%20b%2Fc/plain/%C3%A9%3F%23"
    );
    assert_eq!(post.query, "");
    assert_eq!(post.body, body.as_bytes());
    assert_eq!(post.headers["content-type"], "application/json");
    assert_eq!(post.bearer(), "Bearer tok-1-SECRET");

    // Without tags: no `/tags`.
    client
        .post_share("io.example.test", &[], b"{}")
        .await
        .unwrap();
    assert_eq!(server.api_requests()[1].path, "/share/io.example.test");
}

#[tokio::test]
async fn an_answer_without_id_is_still_stored() {
    let server = Server::start(|seen: &Seen| {
        if seen.is_token() {
            Reply::token(seen)
        } else {
            Reply::new(200, "not json")
        }
    })
    .await;
    let posted = server
        .client(pipe())
        .post_share("io.example.test", &[], b"{}")
        .await
        .unwrap();
    assert_eq!(posted.id, None);
    assert_eq!(
        server.api_requests()[0].bearer(),
        format!("Bearer {PIPE_TOKEN}")
    );
}

#[tokio::test]
async fn refreshes_the_token_once_on_401() {
    let server = Server::start(accepting_all_but("Bearer tok-1-SECRET")).await;
    let client = server.client(password());
    client.token().await.unwrap();
    client
        .post_share("io.example.test", &[], b"{}")
        .await
        .unwrap();
    assert_eq!(server.token_requests(), 2);
    let bearers: Vec<String> = server
        .api_requests()
        .iter()
        .map(|s| s.bearer().to_string())
        .collect();
    assert_eq!(bearers, ["Bearer tok-1-SECRET", "Bearer tok-2-SECRET"]);

    // The new token is kept.
    client
        .post_share("io.example.test", &[], b"{}")
        .await
        .unwrap();
    assert_eq!(server.token_requests(), 2);
}

#[tokio::test]
async fn concurrent_401s_fetch_one_new_token() {
    let server = Server::start(accepting_all_but("Bearer tok-1-SECRET")).await;
    let client = server.client(password());
    client.token().await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let client = client.clone();
        tasks.spawn(async move {
            client
                .post_share("io.example.test", &[], format!("{{\"i\":{i}}}").as_bytes())
                .await
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(server.token_requests(), 2);
    let api = server.api_requests();
    assert_eq!(api.len(), 16);
    assert_eq!(
        api.iter()
            .filter(|s| s.bearer() == "Bearer tok-2-SECRET")
            .count(),
        8
    );
}

#[tokio::test]
async fn a_second_401_is_an_auth_error() {
    let server = Server::start(|seen: &Seen| {
        if seen.is_token() {
            Reply::token(seen)
        } else {
            Reply::new(401, "")
        }
    })
    .await;
    let client = server.client(password());
    let error = client
        .post_share("io.example.test", &[], b"{}")
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::Auth { status: 401, .. }),
        "{error:?}"
    );
    assert_eq!(server.token_requests(), 2);
    assert_eq!(server.api_requests().len(), 2);
    // The credentials got tokens: the worker retries (with backoff) rather than stopping
    // every delivery; a record that keeps failing ends in the dead-letter table.
    match client
        .deliver("io.example.test", &[], b"{}")
        .await
        .unwrap_err()
    {
        DeliveryError::Retry {
            reason,
            status: Some(401),
            after: None,
            cause: Cause::Answer,
        } => {
            assert!(reason.contains("got a token before"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn refused_credentials_are_an_auth_error() {
    let server = Server::start(|seen: &Seen| {
        if seen.is_token() {
            Reply::new(401, r#"{"error":"invalid_grant"}"#)
        } else {
            Reply::posted()
        }
    })
    .await;
    let error = server.client(password()).token().await.unwrap_err();
    match error {
        ClientError::Auth { status, message } => {
            assert_eq!(status, 401);
            assert!(message.contains("invalid_grant"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(server.api_requests().is_empty());
    // Credentials that never got a token stop delivery: retrying will not help.
    let fresh = server.client(password());
    match fresh.deliver("io.example.test", &[], b"{}").await {
        Err(DeliveryError::Stop { reason }) => {
            assert!(reason.contains("will not help"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_pipe_token_that_gets_401_was_revoked() {
    let server = Server::start(|_: &Seen| Reply::new(401, "")).await;
    let client = server.client(pipe());
    client.token().await.unwrap(); // nothing to fetch
    let error = client
        .post_share("io.example.test", &[], b"{}")
        .await
        .unwrap_err();
    assert_eq!(error, ClientError::Revoked);
    assert!(matches!(
        client.deliver("io.example.test", &[], b"{}").await,
        Err(DeliveryError::Stop { .. })
    ));
    assert_eq!(server.token_requests(), 0);
    assert_eq!(server.api_requests().len(), 2);

    // Listing needs password credentials.
    let mut pages = client.pages("io.example.test", 10);
    assert!(matches!(
        pages.next().await,
        Some(Err(ClientError::Config(_)))
    ));
    assert!(pages.next().await.is_none());
    assert_eq!(server.api_requests().len(), 2);
}

#[tokio::test]
async fn status_429_carries_retry_after() {
    let server =
        Server::start(|_: &Seen| Reply::new(429, "slow down").header("retry-after", "2")).await;
    let client = server.client(pipe());
    let error = client
        .post_share("io.example.test", &[], b"{}")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ClientError::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
            body: "slow down".into()
        }
    );
    let error = client
        .deliver("io.example.test", &[], b"{}")
        .await
        .unwrap_err();
    expect_retry(error, Some(Duration::from_secs(2)));
}

#[tokio::test]
async fn status_5xx_and_408_are_retried_other_4xx_rejected() {
    let server = Server::start(|seen: &Seen| {
        let status = seen.path.rsplit('.').next().unwrap().parse().unwrap();
        Reply::new(status, "x".repeat(1000))
    })
    .await;
    let client = server.client(pipe());
    for status in [500, 503, 504, 408, 425] {
        let error = client
            .deliver(&format!("io.example.{status}"), &[], b"{}")
            .await
            .unwrap_err();
        expect_retry(error, None);
    }
    for status in [400, 403, 404, 413, 422] {
        let error = client
            .deliver(&format!("io.example.{status}"), &[], b"{}")
            .await
            .unwrap_err();
        assert!(
            matches!(error, DeliveryError::Reject { status: Some(s), .. } if s == status),
            "{status}: {error:?}"
        );
    }
    // The body is clipped.
    let error = client
        .post_share("io.example.400", &[], b"{}")
        .await
        .unwrap_err();
    match error {
        ClientError::Status {
            status: 400,
            retry_after: None,
            body,
        } => assert!(body.chars().count() <= 201, "{}", body.len()),
        other => panic!("{other:?}"),
    }
}

/// A loopback port nothing listens on.
async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

#[tokio::test]
async fn connection_refused_is_transport_and_retried() {
    let base = closed_port().await;
    let client = client_for(&base, pipe(), Duration::from_secs(2));
    let error = client
        .post_share("io.example.test", &[], b"{}")
        .await
        .unwrap_err();
    match &error {
        ClientError::Transport(what) => assert!(what.contains("could not connect"), "{what}"),
        other => panic!("{other:?}"),
    }
    let error = client
        .deliver("io.example.test", &[], b"{}")
        .await
        .unwrap_err();
    // Nothing went out: nothing can have been stored, and it says nothing about the load.
    assert!(!error.may_have_stored(), "{error:?}");
    assert_eq!(error.signal(), Signal::Other);
    expect_retry(error, None);
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let server = Server::start(|_: &Seen| {
        let mut reply = Reply::posted();
        reply.delay = Duration::from_secs(3);
        reply
    })
    .await;
    let client = client_for(&server.base(), pipe(), Duration::from_millis(300));
    let started = std::time::Instant::now();
    let error = client
        .post_share("io.example.test", &[], b"{}")
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    // The request went out: the server may have carried it out.
    match &error {
        ClientError::Unanswered {
            what,
            timed_out: true,
        } => assert!(what.contains("timed out"), "{what}"),
        other => panic!("{other:?}"),
    }
    let error = client
        .deliver("io.example.test", &[], b"{}")
        .await
        .unwrap_err();
    assert!(error.may_have_stored(), "{error:?}");
    assert_eq!(error.signal(), Signal::Overload);
    expect_retry(error, None);
}

/// A share as Microshare stores it: 2017 encoding for even `n`, 2020+ for odd.
fn share(n: usize) -> String {
    if n.is_multiple_of(2) {
        format!(
            r#"{{"_id": {{"$oid": "5923{n:020}"}}, "id": "5923{n:020}", "recType": "io.example.test", "tstamp": {{"$date": 1495501715141}}, "data": {{"n": {n}, "x": 1.50}}}}"#
        )
    } else {
        format!(
            r#"{{"_id":"5ed1{n:020}","id":"5ed1{n:020}","recType":"io.example.test","tstamp":"05/23/2017 01:08:35:141 AM","data":{{"n":{n}}}}}"#
        )
    }
}

/// Pages of `per_page` shares out of `count`, claiming `total_pages`.
fn page_reply(seen: &Seen, count: usize, total_pages: usize) -> Reply {
    let url = reqwest::Url::parse(&format!("http://x/?{}", seen.query)).unwrap();
    let get = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    assert_eq!(get("details"), "true");
    let page: usize = get("page").parse().unwrap();
    let per_page: usize = get("perPage").parse().unwrap();
    let objs: Vec<String> = ((page - 1) * per_page..count.min(page * per_page))
        .map(share)
        .collect();
    Reply::new(
        200,
        format!(
            r#"{{"meta":{{"currentCount":{},"currentPage":{page},"perPage":{per_page},"source":"db","totalCount":{count},"totalPages":{total_pages}}},"objs":[{}]}}"#,
            objs.len(),
            objs.join(",\n  ")
        ),
    )
}

async fn all_pages(client: &Client, per_page: u32) -> Vec<Page> {
    let mut pages = client.pages("io.example.test", per_page);
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        all.push(page.unwrap());
    }
    assert!(pages.next().await.is_none());
    all
}

#[tokio::test]
async fn pages_until_the_last_page() {
    let server = Server::start(|seen: &Seen| {
        if seen.is_token() {
            Reply::token(seen)
        } else {
            page_reply(seen, 5, 3)
        }
    })
    .await;
    let client = server.client(password());
    let pages = all_pages(&client, 2).await;
    let shape: Vec<(u64, u64, usize)> = pages
        .iter()
        .map(|p| (p.current_page, p.total_pages, p.objs.len()))
        .collect();
    assert_eq!(shape, [(1, 3, 2), (2, 3, 2), (3, 3, 1)]);
    let objs: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.objs.iter().map(|o| o.get()))
        .collect();
    let expected: Vec<String> = (0..5).map(share).collect();
    assert_eq!(
        objs, expected,
        "the shares as they came, both date encodings"
    );

    let api = server.api_requests();
    let requests: Vec<(&Method, &str, &str)> = api
        .iter()
        .map(|s| (&s.method, s.path.as_str(), s.query.as_str()))
        .collect();
    assert_eq!(
        requests,
        [
            (
                &Method::GET,
                "/share/io.example.test",
                "details=true&page=1&perPage=2"
            ),
            (
                &Method::GET,
                "/share/io.example.test",
                "details=true&page=2&perPage=2"
            ),
            (
                &Method::GET,
                "/share/io.example.test",
                "details=true&page=3&perPage=2"
            ),
        ]
    );
    assert!(api.iter().all(|s| s.bearer() == "Bearer tok-1-SECRET"));
}

#[tokio::test]
async fn pages_until_objs_is_empty() {
    // totalPages says 10, but the shares run out on page 3.
    let server = Server::start(|seen: &Seen| {
        if seen.is_token() {
            Reply::token(seen)
        } else {
            page_reply(seen, 4, 10)
        }
    })
    .await;
    let pages = all_pages(&server.client(password()), 2).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(server.api_requests().len(), 3);
}

#[tokio::test]
async fn pages_retry_the_same_page_after_a_status_error() {
    let server = Server::start(|seen: &Seen| {
        if seen.is_token() {
            Reply::token(seen)
        } else if seen.nth == 1 {
            Reply::new(503, "busy")
        } else {
            page_reply(seen, 3, 2)
        }
    })
    .await;
    let client = server.client(password());
    let mut pages = client.pages("io.example.test", 2);
    assert_eq!(pages.next().await.unwrap().unwrap().current_page, 1);
    assert!(matches!(
        pages.next().await,
        Some(Err(ClientError::Status { status: 503, .. }))
    ));
    assert_eq!(pages.next().await.unwrap().unwrap().current_page, 2);
    assert!(pages.next().await.is_none());
    let queries: Vec<String> = server.api_requests().into_iter().map(|s| s.query).collect();
    assert_eq!(
        queries,
        [
            "details=true&page=1&perPage=2",
            "details=true&page=2&perPage=2",
            "details=true&page=2&perPage=2"
        ]
    );
}

/// Every event and span field, as text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

impl tracing::field::Visit for Capture {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        let mut text = self.0.lock().unwrap();
        text.push_str(&format!("{} = {value:?}\n", field.name()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        span.record(&mut self.clone());
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut self.clone());
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        event.record(&mut self.clone());
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn assert_no_secret(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{secret:?} in {text:?}");
    }
}

#[tokio::test]
async fn secrets_never_show() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let encoded_password = "p%40ss%20w%26rd%3D%2F%2BHunter2";
    let secrets = [
        PASSWORD,
        encoded_password,
        "Hunter2",
        API_KEY,
        PIPE_TOKEN,
        "tok-",
        "SECRET",
    ];
    let mut texts = Vec::new();

    // A server that echoes the request (query and Authorization included) in its errors.
    let server = Server::start(|seen: &Seen| {
        let echo = format!(
            "{} {}?{} {:?}",
            seen.method, seen.path, seen.query, seen.headers
        );
        match (seen.is_token(), seen.path.as_str()) {
            (true, _) if seen.nth == 0 => Reply::new(403, echo),
            (true, _) if seen.nth == 1 => Reply::new(503, echo).header("retry-after", "7"),
            (true, _) => Reply::token(seen),
            (false, "/share/io.example.401") => Reply::new(401, echo),
            (false, _) => Reply::new(400, echo),
        }
    })
    .await;
    let client = server.client(password());
    let auth = client.token().await.unwrap_err(); // 403
    assert!(
        matches!(auth, ClientError::Auth { status: 403, .. }),
        "{auth:?}"
    );
    let status = client.token().await.unwrap_err(); // 503
    assert!(
        matches!(status, ClientError::Status { status: 503, .. }),
        "{status:?}"
    );
    let echoed = client
        .post_share("io.example.400", &[], b"{}")
        .await
        .unwrap_err();
    assert!(
        matches!(echoed, ClientError::Status { status: 400, .. }),
        "{echoed:?}"
    );
    let twice = client
        .post_share("io.example.401", &[], b"{}")
        .await
        .unwrap_err();
    assert!(
        matches!(twice, ClientError::Auth { status: 401, .. }),
        "{twice:?}"
    );
    let revoked = server
        .client(pipe())
        .post_share("io.example.401", &[], b"{}")
        .await
        .unwrap_err();
    assert_eq!(revoked, ClientError::Revoked);
    let echoed_pipe = server
        .client(pipe())
        .post_share("io.example.400", &[], b"{}")
        .await
        .unwrap_err();

    // Transport errors of a token request (its URL holds the password) and of a post.
    let closed = closed_port().await;
    let refused = client_for(&closed, password(), Duration::from_secs(2));
    let refused_token = refused.token().await.unwrap_err();
    assert!(matches!(refused_token, ClientError::Transport(_)));
    let refused_post = client_for(&closed, pipe(), Duration::from_secs(2))
        .post_share("io.example.test", &[], b"{}")
        .await
        .unwrap_err();
    let slow = Server::start(|_: &Seen| {
        let mut reply = Reply::new(200, "{}");
        reply.delay = Duration::from_secs(3);
        reply
    })
    .await;
    let timed_out = client_for(&slow.base(), password(), Duration::from_millis(300))
        .token()
        .await
        .unwrap_err();
    assert!(
        matches!(timed_out, ClientError::Transport(_)),
        "{timed_out:?}"
    );
    let mut bad = ClientConfig::new(Endpoints::same("ftp://nowhere"), password());
    bad.timeout = Duration::from_secs(1);
    let config = Client::new(bad.clone()).unwrap_err();
    assert!(matches!(config, ClientError::Config(_)));

    let errors = [
        auth,
        status,
        echoed,
        twice,
        revoked,
        echoed_pipe,
        refused_token,
        refused_post,
        timed_out,
        config,
    ];
    for error in &errors {
        texts.push(format!("{error} / {error:?}"));
    }
    // The reasons handed to the worker, for each kind of ending.
    let refused_pipe = client_for(&closed, pipe(), Duration::from_secs(2));
    let deliveries = [
        (&client, "io.example.400"),
        (&client, "io.example.401"),
        (&server.client(pipe()), "io.example.401"),
        (&server.client(pipe()), "io.example.400"),
        (&refused_pipe, "io.example.test"),
    ];
    for (client, rec_type) in deliveries {
        match client.deliver(rec_type, &[], b"{}").await.unwrap_err() {
            DeliveryError::Retry { reason, .. }
            | DeliveryError::Reject { reason, .. }
            | DeliveryError::Stop { reason } => texts.push(reason),
        }
    }
    // The server did see the secrets, so the echo was real.
    let echoes = format!(
        "{:?}",
        server
            .seen()
            .iter()
            .map(|s| (&s.query, s.bearer().to_string()))
            .collect::<Vec<_>>()
    );
    assert!(echoes.contains(encoded_password) && echoes.contains("Bearer tok-3-SECRET"));
    assert!(echoes.contains(PIPE_TOKEN));

    let ok = server.client(password());
    texts.push(format!("{ok:?} {:?} {:?}", server.client(pipe()), bad));
    texts.push(format!("{:?} {:?}", password(), pipe()));
    texts.push(format!("{:?}", ok.pages("io.example.test", 5)));
    for text in &texts {
        assert_no_secret(text, &secrets);
    }
    assert!(texts[0].contains("403"));
    let logs = capture.0.lock().unwrap().clone();
    assert!(logs.contains("refused (401)"), "{logs}");
    assert_no_secret(&logs, &secrets);
}
