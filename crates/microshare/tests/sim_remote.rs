//! The simulator as a remote service, over loopback HTTP: latency that holds no thread, the
//! rate limit, the cap on requests in flight, the query by tags; and the client's query by
//! tags against it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lorafield_microshare::Secret;
use lorafield_microshare::client::{Client, ClientConfig, ClientError, Credentials, Endpoints};
use lorafield_microshare::sim::{Latency, SimConfig, Simulator};
use lorafield_microshare::worker::{Deliver, Lookup};
use reqwest::StatusCode;
use serde_json::Value;

/// Every network wait in these tests is bounded by this.
const BOUND: Duration = Duration::from_secs(20);

async fn start(config: SimConfig) -> Simulator {
    Simulator::start(SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(BOUND)
        .build()
        .unwrap()
}

async fn token(sim: &Simulator, grant: &str) -> String {
    let query = [
        ("username", "user@example.org"),
        ("password", "secret"),
        ("client_id", "apikey"),
        ("grant_type", grant),
    ];
    let r = http()
        .post(format!("{}/oauth2/token", sim.base_url()))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `n` posts at once to `path`; each answer's status, `Retry-After` and time taken.
async fn post_at_once(
    sim: &Simulator,
    token: &str,
    path: &str,
    n: usize,
) -> Vec<(StatusCode, Option<String>, Duration)> {
    let http = http();
    let mut tasks = Vec::new();
    for _ in 0..n {
        let request = http
            .post(format!("{}{path}", sim.base_url()))
            .bearer_auth(token)
            .body("{}");
        tasks.push(tokio::spawn(async move {
            let start = Instant::now();
            let r = request.send().await.unwrap();
            let after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (r.status(), after, start.elapsed())
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

/// On a runtime of one thread, fifty requests wait out their latency at the same time: the
/// wait is a timer, not a thread.
#[tokio::test(flavor = "current_thread")]
async fn latency_delays_every_request_and_holds_no_thread() {
    let latency = Duration::from_millis(300);
    let sim = start(SimConfig {
        latency: Latency::new(latency, Duration::ZERO),
        ..SimConfig::default()
    })
    .await;
    let start = Instant::now();
    let token = token(&sim, "password").await;
    assert!(start.elapsed() >= latency, "token requests wait too");
    let answers = post_at_once(&sim, &token, "/share/io.a", 50).await;
    for (status, _, took) in &answers {
        assert_eq!(*status, StatusCode::OK);
        assert!(*took >= latency, "{took:?}");
    }
    let stats = sim.stats();
    assert_eq!(stats.stored, 50);
    assert_eq!(
        stats.peak_in_flight, 50,
        "all fifty waited at once: {stats:?}"
    );
    // The stats are not behind the gate: not counted, not in flight.
    let served: Value = http()
        .get(format!("{}/_sim/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served["peak_in_flight"], 50);
    assert_eq!(served["requests"], 51);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_takes_one_second_of_burst_then_answers_429_with_retry_after() {
    let sim = start(SimConfig {
        rate_limit: Some(2),
        ..SimConfig::default()
    })
    .await;
    // Token requests are not limited.
    let mut tokens = Vec::new();
    for _ in 0..5 {
        tokens.push(token(&sim, "password").await);
    }
    let start = Instant::now();
    let answers = post_at_once(&sim, &tokens[0], "/share/io.a", 12).await;
    let elapsed = start.elapsed();
    let ok = answers.iter().filter(|a| a.0 == StatusCode::OK).count();
    // The burst (2), and what refilled while the requests came in (2 a second).
    let refilled = (elapsed.as_secs_f64() * 2.0).ceil() as usize;
    assert!((2..=2 + refilled).contains(&ok), "{ok} in {elapsed:?}");
    for (status, after, _) in answers.iter().filter(|a| a.0 != StatusCode::OK) {
        assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS);
        let after: u64 = after.as_deref().unwrap().parse().unwrap();
        assert!(after >= 1);
    }
    let stats = sim.stats();
    assert_eq!(stats.stored as usize, ok);
    assert_eq!(stats.rate_limited as usize, 12 - ok);
    assert_eq!(stats.requests, 5 + 12);
    // Reads are share requests too: a second later, one second's worth again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let http = http();
    let start = Instant::now();
    let mut reads = Vec::new();
    for _ in 0..12 {
        let request = http
            .get(format!("{}/share/io.a", sim.base_url()))
            .bearer_auth(&tokens[0]);
        reads.push(tokio::spawn(async move {
            request.send().await.unwrap().status()
        }));
    }
    let mut read_ok = 0;
    for r in reads {
        read_ok += usize::from(r.await.unwrap() == StatusCode::OK);
    }
    let refilled = (start.elapsed().as_secs_f64() * 2.0).ceil() as usize;
    assert!((2..=2 + refilled).contains(&read_ok), "{read_ok}");
    assert_eq!(sim.stats().rate_limited as usize, 24 - ok - read_ok);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_cap_get_503_after_the_latency() {
    let latency = Duration::from_millis(1000);
    let sim = start(SimConfig {
        latency: Latency::new(latency, Duration::ZERO),
        max_in_flight: Some(3),
        ..SimConfig::default()
    })
    .await;
    let token = token(&sim, "pipe").await;
    let answers = post_at_once(&sim, &token, "/share/io.a", 10).await;
    let ok = answers.iter().filter(|a| a.0 == StatusCode::OK).count();
    let refused: Vec<_> = answers.iter().filter(|a| a.0 != StatusCode::OK).collect();
    assert!(ok >= 3, "{answers:?}");
    assert!(!refused.is_empty(), "{answers:?}");
    for (status, _, took) in &refused {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            *took >= latency,
            "a refusal crosses the network too: {took:?}"
        );
    }
    let stats = sim.stats();
    assert_eq!(stats.peak_in_flight, 3, "{stats:?}");
    assert_eq!(stats.over_capacity as usize, refused.len());
    assert_eq!(stats.stored as usize, ok);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_by_tags_lists_shares_carrying_every_tag() {
    let sim = start(SimConfig::default()).await;
    let pipe = token(&sim, "pipe").await;
    let password = token(&sim, "password").await;
    for path in [
        "/share/io.a/tags/red/round",
        "/share/io.a/tags/red",
        "/share/io.a/tags/round/red/big",
        "/share/io.a/tags/blue%20sky",
        "/share/io.b/tags/red",
    ] {
        let r = http()
            .post(format!("{}{path}", sim.base_url()))
            .bearer_auth(&pipe)
            .body(format!("{{\"path\":\"{path}\"}}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let query = |path: &str, token: &str| {
        let request = http()
            .get(format!("{}{path}", sim.base_url()))
            .bearer_auth(token);
        async move {
            let r = request.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let paths_of = |page: &Value| -> Vec<String> {
        page["objs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["data"]["path"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let (status, page) = query("/share/io.a/tags/red?details=true", &password).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        paths_of(&page),
        [
            "/share/io.a/tags/red/round",
            "/share/io.a/tags/red",
            "/share/io.a/tags/round/red/big"
        ]
    );
    assert_eq!(page["meta"]["totalCount"], 3);
    let (_, page) = query("/share/io.a/tags/round/red?details=true", &password).await;
    assert_eq!(paths_of(&page).len(), 2);
    let (_, page) = query("/share/io.a/tags/blue%20sky?details=true", &password).await;
    assert_eq!(paths_of(&page), ["/share/io.a/tags/blue%20sky"]);
    assert_eq!(page["objs"][0]["tags"][0], "blue sky");
    let (_, page) = query("/share/io.a/tags/green", &password).await;
    assert_eq!(page["objs"].as_array().unwrap().len(), 0);
    // Paged like the listing by recType.
    let (_, page) = query(
        "/share/io.a/tags/red?details=true&page=2&perPage=2",
        &password,
    )
    .await;
    assert_eq!(paths_of(&page), ["/share/io.a/tags/round/red/big"]);
    assert_eq!(
        (&page["meta"]["totalPages"], &page["meta"]["currentPage"]),
        (&Value::from(2), &Value::from(2))
    );
    // `latest`: the newest share of the recType.
    let (_, page) = query("/share/io.a/tags/latest?details=true", &password).await;
    assert_eq!(paths_of(&page), ["/share/io.a/tags/blue%20sky"]);
    // A pipe token can only post.
    let (status, _) = query("/share/io.a/tags/red", &pipe).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Six answered; the refused one is not a query answered.
    assert_eq!(sim.stats().tag_queries, 6);
    sim.shutdown().await;
}

fn client_of(sim: &Simulator, credentials: Credentials) -> Client {
    let mut config = ClientConfig::new(Endpoints::same(&sim.base_url()), credentials);
    config.timeout = Duration::from_secs(5);
    Client::new(config).unwrap()
}

fn password() -> Credentials {
    Credentials::Password {
        username: "user@example.org".into(),
        password: Secret::new("secret"),
        api_key: Secret::new("apikey"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_looks_records_up_by_their_tag_with_password_credentials_only() {
    let sim = start(SimConfig::default()).await;
    let client = client_of(&sim, password());
    let key = "lfk-00000000000000c1".to_string();
    assert!(!client.has_tag("io.a", &key).await.unwrap());
    assert_eq!(client.look_up("io.a", &key).await, Ok(Lookup::Absent));
    client
        .post_share("io.a", &[key.clone(), "site 1".into()], b"{}")
        .await
        .unwrap();
    assert!(client.has_tag("io.a", &key).await.unwrap());
    assert!(client.has_tag("io.a", "site 1").await.unwrap());
    assert_eq!(client.look_up("io.a", &key).await, Ok(Lookup::Found));
    // Another recType, another key: absent.
    assert_eq!(client.look_up("io.b", &key).await, Ok(Lookup::Absent));
    assert_eq!(
        client.look_up("io.a", "lfk-00000000000000c2").await,
        Ok(Lookup::Absent)
    );
    let page = client
        .tagged_page("io.a", &[key.clone(), "site 1".into()], 1, 10)
        .await
        .unwrap();
    assert_eq!(page.objs.len(), 1);
    // A pipe token cannot ask: no request is made.
    let pipe = Credentials::Pipe(Secret::new(token(&sim, "pipe").await));
    let queries = sim.stats().tag_queries;
    let pipe = client_of(&sim, pipe);
    assert_eq!(pipe.look_up("io.a", &key).await, Ok(Lookup::Unavailable));
    assert!(matches!(
        pipe.has_tag("io.a", &key).await,
        Err(ClientError::Config(_))
    ));
    assert_eq!(sim.stats().tag_queries, queries);
    sim.shutdown().await;
}
