//! lorafield on NATS JetStream, end to end: real `nats-server` processes on loopback (started
//! here on free ports, with their own storage, killed when dropped), the `lorafield` binary.

mod common;
mod js;
#[path = "../../microshare/tests/support/nats_server.rs"]
mod nats_server;

use std::time::Duration;

use common::*;
use lorafield_microshare::outbox::{NewRecord, Settle};
use lorafield_microshare::queue::Queue;
use lorafield_microshare::queue::jetstream::{
    ConsumerSettings, JetStream, NatsOptions, StreamSettings,
};
use nats_server::NatsServer;
use serde_json::Value;

fn rec(i: u32) -> NewRecord {
    NewRecord {
        key: format!("lfk-{i:016x}"),
        rec_type: REC_TYPE.into(),
        body: format!("{{\"n\":{i}}}").into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_commands_count_list_and_retry_on_jetstream() {
    let server = NatsServer::start();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let queue = tokio::time::timeout(Duration::from_secs(60), async {
        let q = JetStream::open(
            &NatsOptions::new(url.as_str()),
            StreamSettings::default(),
            Some(ConsumerSettings::default()),
        )
        .await
        .unwrap();
        for i in 1..=4 {
            q.enqueue(rec(i)).await.unwrap();
        }
        let mut leased = Vec::new();
        while leased.len() < 3 {
            leased.extend(
                q.lease(3 - leased.len(), Duration::from_secs(1))
                    .await
                    .unwrap(),
            );
        }
        for (l, status) in leased[..2].iter().zip([Some(400), None]) {
            let reason = format!("refused {}", l.record.key);
            q.settle(
                l,
                Settle::Dead {
                    reason,
                    status,
                    unknown_outcomes: 0,
                },
            )
            .await
            .unwrap();
        }
        // The third stays leased (in flight); the fourth is pending.
        (q, leased)
    })
    .await
    .expect("bounded");
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--queue", url.as_str()]);
        lorafield(&all, dir.path())
    };

    let (code, stdout, stderr) = run(&["outbox", "status"]);
    assert_eq!(code, Some(0), "{stderr}");
    let s: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            &s["pending"],
            &s["in_flight"],
            &s["dead"],
            &s["redelivered"]
        ),
        (
            &Value::from(1),
            &Value::from(1),
            &Value::from(2),
            &Value::from(0)
        ),
        "{stdout}"
    );
    assert!(
        s.get("delivered").is_none(),
        "JetStream keeps no delivered records: {stdout}"
    );
    assert!(s["oldest_pending_age_s"].as_f64().is_some(), "{stdout}");

    let (code, stdout, stderr) = run(&["outbox", "dead"]);
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("KEY "), "{stdout}");
    // Newest first: the second dead letter, with no status, then the 400.
    assert!(
        lines[1].starts_with(&rec(2).key) && lines[1].contains(" - "),
        "{stdout}"
    );
    assert!(lines[2].contains(" 400 ") && lines[2].ends_with(&format!("refused {}", rec(1).key)));

    let (code, stdout, _) = run(&["outbox", "dead", "--json", "--limit", "1"]);
    assert_eq!(code, Some(0));
    let letter: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(letter["key"], rec(2).key.as_str());
    assert_eq!(letter["recType"], REC_TYPE);
    assert_eq!(letter["attempts"], 1);

    let (code, _, stderr) = run(&["outbox", "retry-dead"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("2 dead records are pending again"),
        "{stderr}"
    );
    let (_, stdout, _) = run(&["outbox", "status"]);
    let s: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&s["pending"], &s["dead"]),
        (&Value::from(3), &Value::from(0)),
        "{stdout}"
    );

    let (code, _, stderr) = run(&["outbox", "purge-delivered"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("purge-delivered is for the SQLite outbox only"),
        "{stderr}"
    );
    drop(queue);
}

#[test]
fn outbox_commands_say_when_nats_cannot_be_reached_or_the_stream_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let closed = format!("nats://127.0.0.1:{}", nats_server::free_port());
    let (code, _, stderr) = lorafield(&["outbox", "status", "--queue", &closed], dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("connecting to NATS at nats://127.0.0.1:"),
        "{stderr}"
    );

    let server = NatsServer::start();
    let (code, _, stderr) = lorafield(&["outbox", "status", "--queue", &server.url()], dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("the stream LORAFIELD (is this the right server?)"),
        "{stderr}"
    );

    let (code, _, stderr) = lorafield(&["outbox", "status", "--queue", "http://x:1"], dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--queue takes nats://HOST:PORT"),
        "{stderr}"
    );
}

/// A NATS server that wants a user and password: given as options, or in the URL; at trace
/// level the logs still show neither; a wrong password is refused with a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_credentials_from_options_or_the_url_and_never_in_a_log() {
    const PASSWORD: &str = "nats-pw-7f3a9c";
    let server = NatsServer::start_with(&["--user", "lorafield", "--pass", PASSWORD]);
    let with_options = js::Proc::start_logging(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rec-type",
            REC_TYPE,
            "--queue",
            &server.url(),
            "--nats-user",
            "lorafield",
            "--nats-password",
            PASSWORD,
        ]
        .map(String::from),
        "trace",
    );
    let in_url = format!("nats://lorafield:{PASSWORD}@127.0.0.1:{}", server.port);
    let with_url = js::Proc::start_logging(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rec-type",
            REC_TYPE,
            "--queue",
            &in_url,
        ]
        .map(String::from),
        "trace",
    );
    let client = common::http();
    for (i, bridge) in [&with_options, &with_url].into_iter().enumerate() {
        let (status, key) = js::post(&client, &bridge.url, common::uplink(1, 70 + i as u32)).await;
        assert_eq!((status, key.is_some()), (202, true), "{}", bridge.log());
        let log = bridge.log();
        assert!(log.contains("connected to NATS at nats://"), "{log}");
        assert!(
            !log.contains(PASSWORD),
            "the password reached the log:\n{log}"
        );
    }
    let (code, _, stderr) = lorafield(
        &[
            "outbox",
            "status",
            "--queue",
            &server.url(),
            "--nats-user",
            "lorafield",
            "--nats-password",
            "wrong",
        ],
        tempfile::tempdir().unwrap().path(),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("connecting to NATS at"), "{stderr}");
    assert!(stderr.to_lowercase().contains("authorization"), "{stderr}");
    assert!(!stderr.contains(PASSWORD));
}
