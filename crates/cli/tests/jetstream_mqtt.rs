//! `ingest-mqtt --queue`: two ingesters on the same topics of a real mosquitto publish to a
//! real nats-server's stream, whose duplicate window keeps each uplink once; a forward
//! delivers each once to the simulator. Everything on loopback, every wait bounded.

mod common;
mod js;
mod mqtt;
#[path = "../../microshare/tests/support/nats_server.rs"]
mod nats_server;

use std::collections::BTreeMap;
use std::time::Duration;

use mqtt::ingester::{Ingester, chirpstack, tts, wait_stored};
use mqtt::mosquitto::{Mosquitto, Setup, publish};
use nats_server::NatsServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ingesters_on_jetstream_store_each_uplink_once_and_a_forward_delivers_it() {
    let server = NatsServer::start();
    let sim = js::sim(5).await;
    let broker = Mosquitto::start(Setup::default());
    let dir = tempfile::tempdir().unwrap();
    let rejected = dir.path().join("rejected.jsonl");
    let rejected = rejected.to_str().unwrap();
    let queue = ["--queue", &server.url(), "--rejected", rejected];
    let a = Ingester::start(&broker.url(), dir.path(), &sim.base_url(), &queue);
    let b = Ingester::start(&broker.url(), dir.path(), &sim.base_url(), &queue);
    let health = a.wait_health(200).await;
    assert_eq!(health["checks"]["queue"]["ok"], true, "{health}");
    assert!(health["checks"].get("outbox").is_none(), "{health}");
    b.wait_health(200).await;
    let forward = js::forward(&server.url(), &sim.base_url(), &[]);
    let n = 200u32;
    let mut messages: Vec<(String, Vec<u8>)> = (0..n / 2).map(|i| tts(i % 7, i)).collect();
    messages.extend((0..n / 2).map(|i| chirpstack(i % 7, i)));
    publish(broker.port, None, &messages).await;
    let ma = a.wait_taken(f64::from(n)).await;
    let mb = b.wait_taken(f64::from(n)).await;
    let count = |m: &BTreeMap<String, f64>, name: &str| m.get(name).copied().unwrap_or(-1.0);
    let added = count(&ma, "lorafield_uplinks_enqueued_total")
        + count(&mb, "lorafield_uplinks_enqueued_total");
    let dropped = count(&ma, "lorafield_uplinks_duplicate_total")
        + count(&mb, "lorafield_uplinks_duplicate_total");
    assert_eq!(
        (added, dropped),
        (f64::from(n), f64::from(n)),
        "each uplink stored by one, dropped by the other: {ma:?}\n{mb:?}"
    );
    assert_eq!(count(&ma, "lorafield_queue_available"), 1.0);
    assert_eq!(
        count(&ma, "lorafield_deliveries_total"),
        -1.0,
        "ingesters deliver nothing"
    );
    let stats = wait_stored(&sim, u64::from(n)).await;
    assert_eq!(stats.distinct_keys, u64::from(n));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sim.stats().duplicates, 0, "{:?}", sim.stats());
    let delivered = js::metric(&forward.metrics().await, "lorafield_deliveries_total ");
    assert_eq!(delivered, f64::from(n));
    a.stop();
    b.stop();
    sim.shutdown().await;
}
