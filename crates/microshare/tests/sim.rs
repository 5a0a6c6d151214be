//! The Microshare simulator over loopback HTTP: tokens, shares, paging, token expiry and
//! revocation, every fault kind, the fault spec, the stats.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lorafield_microshare::sim::{
    DateEncoding, Faults, SimConfig, SimConfigError, SimStats, SimUser, Simulator,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every network wait in these tests is bounded by this.
const BOUND: Duration = Duration::from_secs(5);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start(config: SimConfig) -> Simulator {
    Simulator::start(loopback(), config).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(BOUND)
        .build()
        .unwrap()
}

async fn token_response(sim: &Simulator, grant: &str, password: &str) -> reqwest::Response {
    let url = format!("{}/oauth2/token", sim.base_url());
    let query = [
        ("username", "user@example.org"),
        ("password", password),
        ("client_id", "apikey"),
        ("grant_type", grant),
        ("scope", "ALL:ALL"),
    ];
    client().post(url).query(&query).send().await.unwrap()
}

async fn token(sim: &Simulator, grant: &str) -> String {
    let response = token_response(sim, grant, "secret").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn post(
    sim: &Simulator,
    token: &str,
    path: &str,
    body: &str,
) -> reqwest::Result<reqwest::Response> {
    client()
        .post(format!("{}{path}", sim.base_url()))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
}

async fn get(sim: &Simulator, token: &str, path: &str) -> reqwest::Response {
    let url = format!("{}{path}", sim.base_url());
    client().get(url).bearer_auth(token).send().await.unwrap()
}

async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

/// Sends a raw HTTP/1.1 request and reads until the server closes; `Err` on a reset.
async fn raw(addr: SocketAddr, request: &str) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut answer))
        .await
        .expect("the simulator neither answered nor closed")?;
    Ok(answer)
}

fn faults(spec: &str) -> Faults {
    spec.parse().unwrap()
}

#[tokio::test]
async fn grants_password_and_pipe_tokens() {
    let sim = start(SimConfig::default()).await;

    let password = json(token_response(&sim, "password", "secret").await).await;
    assert_eq!(password["token_type"], "Bearer");
    assert_eq!(password["scope"], "ALL:ALL");
    assert_eq!(password["expires_in"], 172_800);
    let pipe = json(token_response(&sim, "pipe", "secret").await).await;
    assert_eq!(pipe["token_type"], "Pipe");
    assert_eq!(pipe["scope"], "SHARE:WRITE");
    assert_ne!(password["access_token"], pipe["access_token"]);

    let wrong = token_response(&sim, "password", "wrong").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(json(wrong).await["error"].is_string());
    let bad_grant = token_response(&sim, "client_credentials", "secret").await;
    assert_eq!(bad_grant.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.stats().requests, 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn configured_users_and_percent_encoded_passwords() {
    let users = vec![SimUser::new("a@b.c", "p&ss w=rd+", "key-1")];
    let sim = start(SimConfig {
        users,
        ..SimConfig::default()
    })
    .await;
    let url = format!("{}/oauth2/token", sim.base_url());
    let query = [
        ("username", "a@b.c"),
        ("password", "p&ss w=rd+"),
        ("client_id", "key-1"),
        ("grant_type", "password"),
        ("scope", "ALL:ALL"),
    ];
    let response = client().post(&url).query(&query).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The default user is not configured here.
    assert_eq!(
        token_response(&sim, "password", "secret").await.status(),
        StatusCode::UNAUTHORIZED
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn post_stores_verbatim_and_answers_the_microshare_shape() {
    let sim = start(SimConfig::default()).await;
    let token = token(&sim, "pipe").await;
    let body = r#"{"a": 1.50, "b": [1e3, "x"]}"#;
    let response = post(&sim, &token, "/share/io.test.one", body)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer = json(response).await;
    assert_eq!(answer["meta"]["totalCount"], 1);
    let obj = &answer["objs"][0];
    let id = obj["id"].as_str().unwrap();
    assert_eq!(id.len(), 24);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(obj["_id"], id);
    assert_eq!(obj["recType"], "io.test.one");
    assert_eq!(obj["name"], "");
    assert_eq!(obj["url"], format!("/share/io.test.one/{id}"));
    assert!(obj["tstamp"].is_u64());

    // Read back with a password token: the data is the body, byte for byte.
    let password = self::token(&sim, "password").await;
    let text = get(&sim, &password, &format!("/share/io.test.one/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#""data":{"a": 1.50, "b": [1e3, "x"]}"#),
        "{text}"
    );

    let stats = sim.stats();
    assert_eq!(stats.stored, 1);
    assert_eq!(stats.by_rec_type["io.test.one"], 1);
    assert_eq!(stats.distinct_keys, 0);
    assert_eq!(stats.duplicates, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn post_refuses_what_is_not_a_json_object() {
    let sim = start(SimConfig::default()).await;
    let token = token(&sim, "password").await;
    for body in ["[1, 2]", "42", "{\"a\":", "", "not json"] {
        let response = post(&sim, &token, "/share/io.test", body).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body:?}");
    }
    assert_eq!(sim.stats().stored, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn tags_are_percent_decoded() {
    let sim = start(SimConfig::default()).await;
    let token = token(&sim, "password").await;
    let path = "/share/io.test/tags/a%20b/c%2Fd/%E2%82%AC/lfk-0123456789abcdef";
    let answer = json(post(&sim, &token, path, "{}").await.unwrap()).await;
    let id = answer["objs"][0]["id"].as_str().unwrap().to_owned();
    let share = json(get(&sim, &token, &format!("/share/io.test/{id}")).await).await;
    assert_eq!(
        share["objs"][0]["tags"],
        json!(["a b", "c/d", "€", "lfk-0123456789abcdef"])
    );

    let bad = post(&sim, &token, "/share/io.test/tags/%FF", "{}")
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.stats().distinct_keys, 1);
    sim.shutdown().await;
}

async fn paging(encoding: DateEncoding) -> Vec<Value> {
    let sim = start(SimConfig {
        encoding,
        ..SimConfig::default()
    })
    .await;
    let token = token(&sim, "password").await;
    for i in 0..25 {
        let response = post(&sim, &token, "/share/io.paged", &format!("{{\"n\":{i}}}")).await;
        assert_eq!(response.unwrap().status(), StatusCode::OK);
    }
    post(&sim, &token, "/share/io.other", "{}").await.unwrap();

    let mut objs = Vec::new();
    for (page, count) in [(1, 10), (2, 10), (3, 5), (4, 0)] {
        let path = format!("/share/io.paged?details=true&page={page}&perPage=10");
        let answer = json(get(&sim, &token, &path).await).await;
        let meta = &answer["meta"];
        assert_eq!(meta["totalPages"], 3);
        assert_eq!(meta["currentPage"], page);
        assert_eq!(meta["perPage"], 10);
        assert_eq!(meta["totalCount"], 25);
        assert_eq!(meta["currentCount"], count);
        let page_objs = answer["objs"].as_array().unwrap();
        assert_eq!(page_objs.len(), count);
        objs.extend(page_objs.iter().cloned());
    }
    let numbers: Vec<_> = objs
        .iter()
        .map(|o| o["data"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        (0..25).collect::<Vec<_>>(),
        "oldest first, each once"
    );

    // Without details, `data` is empty; perPage defaults to 999.
    let answer = json(get(&sim, &token, "/share/io.paged").await).await;
    assert_eq!(answer["meta"]["perPage"], 999);
    assert_eq!(answer["meta"]["totalPages"], 1);
    assert_eq!(answer["objs"].as_array().unwrap().len(), 25);
    assert_eq!(answer["objs"][0]["data"], json!({}));
    // A recType with nothing stored.
    let answer = json(get(&sim, &token, "/share/io.none?details=true").await).await;
    assert_eq!(answer["meta"]["totalPages"], 0);
    assert_eq!(answer["objs"], json!([]));
    let bad = get(&sim, &token, "/share/io.paged?page=0").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    sim.shutdown().await;
    objs
}

#[tokio::test]
async fn paging_with_2020_dates() {
    let objs = paging(DateEncoding::V2020).await;
    let first = &objs[0];
    let id = first["id"].as_str().unwrap();
    assert_eq!(first["_id"], id);
    assert_eq!(first["recType"], "io.paged");
    let created = first["createDate"].as_str().unwrap();
    assert!(
        created.starts_with("2025-06-15T15:06:40.") && created.ends_with('Z'),
        "{created}"
    );
    assert_eq!(first["updateDate"], first["createDate"]);
    let tstamp = first["tstamp"].as_u64().unwrap();
    assert_eq!(
        objs[1]["tstamp"].as_u64().unwrap(),
        tstamp + 1,
        "a logical clock"
    );
    assert_eq!(first["owner"]["owners"], json!([]));
    assert_eq!(first["owner"]["user"], "user@example.org");
    assert_eq!(first["creatorId"], "user@example.org");
    assert!(
        first["checksum"].as_str().unwrap().ends_with("L7"),
        "{}",
        first["checksum"]
    );
}

#[tokio::test]
async fn paging_with_2017_dates() {
    let objs = paging(DateEncoding::V2017).await;
    let first = &objs[0];
    let id = first["id"].as_str().unwrap();
    assert_eq!(first["_id"], json!({ "$oid": id }));
    let created = first["createDate"]["$date"].as_u64().unwrap();
    assert_eq!(
        first["tstamp"],
        json!({ "$numberLong": created.to_string() })
    );
    assert!(first.get("updateDate").is_none());
    assert!(first["owner"].get("owners").is_none());
    assert_eq!(first["owner"]["user"], "user@example.org");
}

#[tokio::test]
async fn post_answer_follows_the_2017_encoding() {
    let sim = start(SimConfig {
        encoding: DateEncoding::V2017,
        ..SimConfig::default()
    })
    .await;
    let token = token(&sim, "pipe").await;
    let answer = json(post(&sim, &token, "/share/io.test", "{}").await.unwrap()).await;
    let obj = &answer["objs"][0];
    assert_eq!(obj["_id"]["$oid"], obj["id"]);
    assert_eq!(obj["tstamp"], "06/15/2025 03:06:40:001 PM");
    sim.shutdown().await;
}

#[tokio::test]
async fn read_one_and_delete() {
    let sim = start(SimConfig::default()).await;
    let token = token(&sim, "password").await;
    let answer = json(
        post(&sim, &token, "/share/io.test", r#"{"k":1}"#)
            .await
            .unwrap(),
    )
    .await;
    let id = answer["objs"][0]["id"].as_str().unwrap().to_owned();
    let url = format!("{}/share/io.test/{id}", sim.base_url());

    let one = json(get(&sim, &token, &format!("/share/io.test/{id}")).await).await;
    assert_eq!(one["objs"][0]["data"], json!({"k": 1}));
    let elsewhere = get(&sim, &token, &format!("/share/io.other/{id}")).await;
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);

    let deleted = client()
        .delete(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(
        get(&sim, &token, &format!("/share/io.test/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let again = client()
        .delete(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let list = json(get(&sim, &token, "/share/io.test").await).await;
    assert_eq!(list["meta"]["totalCount"], 0);
    assert_eq!(
        sim.stats().stored,
        1,
        "stored counts what was stored, deletes aside"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn pipe_tokens_only_post() {
    let sim = start(SimConfig::default()).await;
    let pipe = token(&sim, "pipe").await;
    let answer = json(post(&sim, &pipe, "/share/io.test", "{}").await.unwrap()).await;
    let id = answer["objs"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&sim, &pipe, "/share/io.test").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let one = get(&sim, &pipe, &format!("/share/io.test/{id}")).await;
    assert_eq!(one.status(), StatusCode::UNAUTHORIZED);
    let url = format!("{}/share/io.test/{id}", sim.base_url());
    let delete = client()
        .delete(url)
        .bearer_auth(&pipe)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::UNAUTHORIZED);
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_or_unknown_tokens_get_401() {
    let sim = start(SimConfig::default()).await;
    let url = format!("{}/share/io.test", sim.base_url());
    let none = client().post(&url).body("{}").send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let unknown = post(&sim, "0123456789abcdef", "/share/io.test", "{}")
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&sim, "nope", "/share/io.test").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sim.stats().stored, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn revoked_pipe_tokens_get_401() {
    let sim = start(SimConfig::default()).await;
    let pipe = token(&sim, "pipe").await;
    let password = token(&sim, "password").await;
    assert_eq!(
        post(&sim, &pipe, "/share/io.test", "{}")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    sim.revoke_pipe_tokens();
    let refused = post(&sim, &pipe, "/share/io.test", "{}").await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        post(&sim, &password, "/share/io.test", "{}")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let new_pipe = token(&sim, "pipe").await;
    assert_eq!(
        post(&sim, &new_pipe, "/share/io.test", "{}")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(sim.stats().stored, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_password_tokens_get_401_until_renewed() {
    let sim = start(SimConfig::default()).await;
    let old = token(&sim, "password").await;
    let pipe = token(&sim, "pipe").await;
    assert_eq!(
        get(&sim, &old, "/share/io.test").await.status(),
        StatusCode::OK
    );
    sim.expire_password_tokens();
    assert_eq!(
        get(&sim, &old, "/share/io.test").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let refused = post(&sim, &old, "/share/io.test", "{}").await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        post(&sim, &pipe, "/share/io.test", "{}")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let new = token(&sim, "password").await;
    assert_eq!(
        get(&sim, &new, "/share/io.test").await.status(),
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn password_tokens_expire_after_their_ttl() {
    let ttl = Some(Duration::from_millis(300));
    let sim = start(SimConfig {
        password_token_ttl: ttl,
        ..SimConfig::default()
    })
    .await;
    let password = token(&sim, "password").await;
    let pipe = token(&sim, "pipe").await;
    assert_eq!(
        get(&sim, &password, "/share/io.test").await.status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        get(&sim, &password, "/share/io.test").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&sim, &pipe, "/share/io.test", "{}")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn status_faults_answer_and_store_nothing() {
    let cases = [
        (
            "status500=1",
            StatusCode::INTERNAL_SERVER_ERROR,
            "status500",
        ),
        ("status503=1", StatusCode::SERVICE_UNAVAILABLE, "status503"),
        ("status429=1", StatusCode::TOO_MANY_REQUESTS, "status429"),
        ("status401=1", StatusCode::UNAUTHORIZED, "status401"),
    ];
    for (spec, status, key) in cases {
        let sim = start(SimConfig::default()).await;
        let token = token(&sim, "password").await;
        sim.set_faults(faults(spec)).unwrap();
        let response = post(&sim, &token, "/share/io.test", "{}").await.unwrap();
        assert_eq!(response.status(), status, "{spec}");
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            retry_after.as_deref(),
            (key == "status429").then_some("1"),
            "{spec}"
        );
        assert!(json(response).await.is_object(), "{spec}: a JSON body");
        // The token endpoint is faulted too; the stats endpoint never.
        assert_eq!(
            token_response(&sim, "password", "secret").await.status(),
            status,
            "{spec}"
        );
        assert_eq!(
            get(&sim, &token, "/share/io.test").await.status(),
            status,
            "{spec}"
        );
        let stats = sim.stats();
        assert_eq!(stats.stored, 0, "{spec}");
        assert_eq!(stats.faults[key], 3, "{spec}");
        assert_eq!(stats.requests, 4, "{spec}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn drop_before_closes_without_answer_and_stores_nothing() {
    let sim = start(SimConfig::default()).await;
    let token = token(&sim, "pipe").await;
    sim.set_faults(faults("drop-before=1")).unwrap();

    let error = post(
        &sim,
        &token,
        "/share/io.test/tags/lfk-0123456789abcdef",
        "{}",
    )
    .await
    .unwrap_err();
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
    let request = format!(
        "POST /share/io.test HTTP/1.1\r\nhost: sim\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}"
    );
    match raw(sim.addr(), &request).await {
        Ok(answer) => assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer)),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    let stats = sim.stats();
    assert_eq!(stats.stored, 0);
    assert_eq!(stats.faults["drop-before"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_after_stores_but_closes_without_answer() {
    let sim = start(SimConfig::default()).await;
    let token = token(&sim, "pipe").await;
    sim.set_faults(faults("drop-after=1")).unwrap();

    let tagged = "/share/io.test/tags/lfk-0123456789abcdef";
    let error = post(&sim, &token, tagged, "{}").await.unwrap_err();
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
    let request = format!(
        "POST {tagged} HTTP/1.1\r\nhost: sim\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}"
    );
    match raw(sim.addr(), &request).await {
        Ok(answer) => assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer)),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    // The client's retry made a duplicate.
    let stats = sim.stats();
    assert_eq!(stats.stored, 2);
    assert_eq!(stats.distinct_keys, 1);
    assert_eq!(stats.duplicates, 1);
    assert_eq!(stats.faults["drop-after"], 2);

    sim.set_faults(Faults::default()).unwrap();
    let answer = post(&sim, &token, "/share/io.test", "{}").await.unwrap();
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "answers again once the faults are off"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_answers_wait_but_store_at_once() {
    let slow = Duration::from_millis(400);
    let sim = start(SimConfig {
        slow,
        ..SimConfig::default()
    })
    .await;
    let token = token(&sim, "pipe").await;
    sim.set_faults(faults("slow=1")).unwrap();

    let started = Instant::now();
    let response = post(&sim, &token, "/share/io.test", "{}").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() >= slow, "{:?}", started.elapsed());

    // A client that gives up first: the share is stored all the same.
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let url = format!("{}/share/io.test", sim.base_url());
    let error = impatient
        .post(url)
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    let stats = sim.stats();
    assert_eq!(stats.stored, 2);
    assert_eq!(stats.faults["slow"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_cuts_slow_answers_short() {
    let config = SimConfig {
        slow: Duration::from_secs(60),
        ..SimConfig::default()
    };
    let sim = start(config).await;
    let token = token(&sim, "pipe").await;
    sim.set_faults(faults("slow=1")).unwrap();
    let base = sim.base_url();
    let request = tokio::spawn(async move {
        client()
            .post(format!("{base}/share/io.test"))
            .bearer_auth(token)
            .body("{}")
            .send()
            .await
    });
    while sim.stats().stored == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let addr = sim.addr();
    let started = Instant::now();
    sim.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let response = request.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn fault_draws_are_seeded() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let sim = start(SimConfig {
            seed,
            ..SimConfig::default()
        })
        .await;
        let token = token(&sim, "pipe").await;
        sim.set_faults(faults("status500=0.3,status503=0.3"))
            .unwrap();
        let mut statuses = Vec::new();
        for _ in 0..30 {
            let response = post(&sim, &token, "/share/io.test", "{}").await.unwrap();
            statuses.push(response.status().as_u16());
        }
        let stats = sim.stats();
        let faulted = stats.faults.values().sum::<u64>();
        assert_eq!(stats.stored + faulted, 30);
        sim.shutdown().await;
        statuses
    }
    let first = statuses(42).await;
    assert_eq!(first, statuses(42).await);
    assert_ne!(first, statuses(43).await);
    assert!(
        first.contains(&200) && first.contains(&500) && first.contains(&503),
        "{first:?}"
    );
}

#[tokio::test]
async fn stats_count_distinct_record_keys_and_duplicates() {
    let sim = start(SimConfig::default()).await;
    let token = token(&sim, "pipe").await;
    let paths = [
        "/share/io.a/tags/lfk-00000000000000aa",
        "/share/io.a/tags/lfk-00000000000000aa",
        "/share/io.a/tags/other/lfk-00000000000000aa",
        "/share/io.b/tags/lfk-00000000000000BB",
        "/share/io.b/tags/lfk-00000000000000BB",
        "/share/io.b",
        "/share/io.b/tags/lfk-xyz",
    ];
    for path in paths {
        assert_eq!(
            post(&sim, &token, path, "{}").await.unwrap().status(),
            StatusCode::OK
        );
    }
    let stats = sim.stats();
    assert_eq!(stats.stored, 7);
    assert_eq!(stats.distinct_keys, 2);
    assert_eq!(stats.duplicates, 3);
    assert_eq!(stats.by_rec_type["io.a"], 3);
    assert_eq!(stats.by_rec_type["io.b"], 4);

    let url = format!("{}/_sim/stats", sim.base_url());
    let served: SimStats = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        served, stats,
        "no token needed, and not counted as a request"
    );
    assert_eq!(sim.stats().requests, 8);
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_faults_refuse_to_start() {
    let config = SimConfig {
        faults: Faults {
            status500: 0.7,
            slow: 0.7,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let error = Simulator::start(loopback(), config).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    let sim = start(SimConfig::default()).await;
    let negative = Faults {
        drop_after: -0.1,
        ..Faults::default()
    };
    assert!(matches!(
        sim.set_faults(negative),
        Err(SimConfigError::InvalidValue {
            key: "drop-after",
            ..
        })
    ));
    sim.shutdown().await;
}

#[test]
fn fault_specs() {
    let parsed = faults("status500=0.1, status429=0.05,drop-after=0.05,slow=0.02");
    let expected = Faults {
        status500: 0.1,
        status429: 0.05,
        drop_after: 0.05,
        slow: 0.02,
        ..Faults::default()
    };
    assert_eq!(parsed, expected);
    assert_eq!(
        parsed.to_string(),
        "status500=0.1,status429=0.05,drop-after=0.05,slow=0.02"
    );
    assert_eq!(faults(&parsed.to_string()), parsed);
    let all = faults("status503=0.1,status401=0.1,drop-before=0.1,drop_after=0.1");
    assert_eq!(
        (
            all.status503,
            all.status401,
            all.drop_before,
            all.drop_after
        ),
        (0.1, 0.1, 0.1, 0.1)
    );
    assert_eq!(faults(""), Faults::default());
    assert_eq!(faults("none"), Faults::default());
    assert_eq!(Faults::default().to_string(), "none");
    assert_eq!(faults("slow=1").slow, 1.0);

    let error = |spec: &str| spec.parse::<Faults>().unwrap_err();
    assert_eq!(
        error("status502=0.1"),
        SimConfigError::UnknownKey {
            key: "status502".into()
        }
    );
    assert!(error("status502=0.1").to_string().contains("status502"));
    for value in ["1.5", "-0.1", "x", "NaN", ""] {
        let e = error(&format!("slow={value}"));
        assert_eq!(
            e,
            SimConfigError::InvalidValue {
                key: "slow",
                value: value.into()
            }
        );
        assert!(e.to_string().contains("slow"), "{e}");
    }
    assert!(matches!(
        error("status500=0.6,status503=0.6"),
        SimConfigError::SumAboveOne { .. }
    ));
    assert!(
        error("status500=0.6,status503=0.6")
            .to_string()
            .contains("more than 1")
    );
    assert_eq!(
        error("slow"),
        SimConfigError::MissingValue {
            entry: "slow".into()
        }
    );
    assert_eq!(
        error("slow=0.1,slow=0.2"),
        SimConfigError::DuplicateKey { key: "slow" }
    );
}

#[test]
fn date_encodings_parse() {
    assert_eq!("2017".parse::<DateEncoding>().unwrap(), DateEncoding::V2017);
    assert_eq!(
        "v2020".parse::<DateEncoding>().unwrap(),
        DateEncoding::V2020
    );
    assert!("2019".parse::<DateEncoding>().is_err());
}
