//! The streams and the consumer: created when missing, compared when present. An existing
//! stream or consumer whose settings differ from those asked for is an error that says how;
//! lorafield never changes one.

use std::time::Duration;

use async_nats::jetstream::consumer::{self, AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType};
use async_nats::jetstream::{Context, ErrorCode};

use super::{ConsumerSettings, StreamSettings, unavailable};
use crate::queue::{QueueError, QueueErrorKind};

/// The work-queue stream `settings` asks for.
pub(super) fn work_stream(settings: &StreamSettings) -> stream::Config {
    stream::Config {
        name: settings.stream.clone(),
        description: Some("lorafield: decoded uplinks waiting for delivery to Microshare".into()),
        subjects: vec![settings.subject.clone()],
        retention: RetentionPolicy::WorkQueue,
        storage: StorageType::File,
        num_replicas: settings.replicas,
        max_age: settings.max_age,
        duplicate_window: settings.duplicate_window,
        ..Default::default()
    }
}

/// The dead-letter stream `settings` asks for: kept until `retry-dead` takes them out.
pub(super) fn dead_stream(settings: &StreamSettings) -> stream::Config {
    stream::Config {
        name: settings.dead_stream.clone(),
        description: Some("lorafield: records given up, until lorafield outbox retry-dead".into()),
        subjects: vec![settings.dead_subject.clone()],
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        num_replicas: settings.replicas,
        duplicate_window: settings.duplicate_window,
        ..Default::default()
    }
}

/// The durable pull consumer `settings` asks for, shared by every `forward`.
pub(super) fn consumer(settings: &ConsumerSettings) -> pull::Config {
    pull::Config {
        durable_name: Some(settings.name.clone()),
        description: Some("lorafield forward: delivery to Microshare".into()),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: settings.ack_wait,
        max_deliver: -1,
        max_ack_pending: settings.max_ack_pending,
        ..Default::default()
    }
}

/// Gets the stream `wanted` names, creating it if it is missing; an existing one must have
/// `wanted`'s settings.
pub(super) async fn ensure_stream(
    js: &Context,
    wanted: stream::Config,
    hint: &str,
) -> Result<stream::Stream, QueueError> {
    let name = wanted.name.clone();
    let mut stream = match js.get_stream(&name).await {
        Ok(s) => s,
        Err(e) if stream_missing(&e) => match js.create_stream(wanted.clone()).await {
            Ok(s) => {
                tracing::info!(
                    "created the JetStream stream {name} ({})",
                    describe(&wanted)
                );
                s
            }
            // Another process created it meanwhile: compare with what it made.
            Err(_) => js
                .get_stream(&name)
                .await
                .map_err(|e| unavailable(&format!("the stream {name}"), e))?,
        },
        Err(e) => return Err(unavailable(&format!("the stream {name}"), e)),
    };
    let found = stream
        .info()
        .await
        .map_err(|e| unavailable(&format!("the stream {name}"), e))?
        .config
        .clone();
    let differences = stream_differences(&found, &wanted);
    if differences.is_empty() {
        Ok(stream)
    } else {
        Err(QueueError::new(
            QueueErrorKind::Settings,
            format!(
                "the JetStream stream {name} exists with other settings: {}. lorafield never \
                 changes an existing stream: give the settings it has ({hint}), or change it \
                 yourself (nats stream edit {name}) and start again",
                differences.join("; ")
            ),
        ))
    }
}

/// Gets the durable consumer `wanted` names on `stream`, creating it if it is missing; an
/// existing one must have `wanted`'s settings.
pub(super) async fn ensure_consumer(
    stream: &stream::Stream,
    wanted: pull::Config,
) -> Result<consumer::PullConsumer, QueueError> {
    let name = wanted.durable_name.clone().unwrap_or_default();
    let what = || format!("the consumer {name}");
    let consumer = match stream.consumer_info(&name).await {
        Ok(_) => stream
            .get_consumer::<pull::Config>(&name)
            .await
            .map_err(|e| unavailable(&what(), e))?,
        Err(e) if consumer_missing(e.kind()) => stream
            .create_consumer(wanted.clone())
            .await
            .map_err(|e| unavailable(&what(), e))?,
        Err(e) => return Err(unavailable(&what(), e)),
    };
    let found = &consumer.cached_info().config;
    let mut differences = Vec::new();
    let mut differ = |field: &str, found: String, asked: String| {
        if found != asked {
            differences.push(format!("{field} {found} (asked {asked})"));
        }
    };
    differ(
        "ack_policy",
        format!("{:?}", found.ack_policy),
        format!("{:?}", wanted.ack_policy),
    );
    differ("ack_wait", human(found.ack_wait), human(wanted.ack_wait));
    differ(
        "max_deliver",
        unlimited(found.max_deliver),
        unlimited(wanted.max_deliver),
    );
    differ(
        "max_ack_pending",
        found.max_ack_pending.to_string(),
        wanted.max_ack_pending.to_string(),
    );
    differ(
        "filter_subject",
        format!("{:?}", found.filter_subject),
        format!("{:?}", wanted.filter_subject),
    );
    if differences.is_empty() {
        Ok(consumer)
    } else {
        Err(QueueError::new(
            QueueErrorKind::Settings,
            format!(
                "the JetStream consumer {name} exists with other settings: {}. Every forward \
                 must share its settings (--lease is its ack_wait); or remove it \
                 (nats consumer rm {} {name}) while no forward runs",
                differences.join("; "),
                stream.cached_info().config.name
            ),
        ))
    }
}

/// The stream's `max_age` must exceed the age at which a record is dead-lettered at the latest
/// (`dead_after`), or a record could expire from the stream instead.
pub(super) fn check_ages(
    stream: &str,
    max_age: Duration,
    dead_after: Duration,
) -> Result<(), QueueError> {
    if max_age.is_zero() || max_age > dead_after {
        return Ok(());
    }
    Err(QueueError::new(
        QueueErrorKind::Settings,
        format!(
            "the stream {stream} keeps records {} (max_age), not longer than a record may wait \
             before it is dead-lettered ({}: --max-age, plus the longest retry wait and a \
             lease); a record would expire from the stream instead of reaching the dead-letter \
             stream. Give the stream a longer max_age (--stream-max-age) or lower --max-age",
            human(max_age),
            human(dead_after)
        ),
    ))
}

/// The settings of `found` that differ from those `wanted` asks for, in words.
pub(super) fn stream_differences(found: &stream::Config, wanted: &stream::Config) -> Vec<String> {
    let mut differences = Vec::new();
    let mut differ = |field: &str, found: String, asked: String| {
        if found != asked {
            differences.push(format!("{field} {found} (asked {asked})"));
        }
    };
    differ(
        "subjects",
        found.subjects.join(","),
        wanted.subjects.join(","),
    );
    differ(
        "retention",
        format!("{:?}", found.retention),
        format!("{:?}", wanted.retention),
    );
    differ(
        "storage",
        format!("{:?}", found.storage),
        format!("{:?}", wanted.storage),
    );
    differ(
        "replicas",
        found.num_replicas.max(1).to_string(),
        wanted.num_replicas.max(1).to_string(),
    );
    differ("max_age", human(found.max_age), human(wanted.max_age));
    differ(
        "duplicate_window",
        human(found.duplicate_window),
        human(wanted.duplicate_window),
    );
    differences
}

fn describe(config: &stream::Config) -> String {
    format!(
        "subject {}, {:?}, replicas {}, max_age {}, duplicate window {}",
        config.subjects.join(","),
        config.retention,
        config.num_replicas.max(1),
        human(config.max_age),
        human(config.duplicate_window)
    )
}

fn unlimited(n: i64) -> String {
    if n <= 0 {
        "unlimited".into()
    } else {
        n.to_string()
    }
}

/// A duration as `14d`, `2m`, `1h30m`, `90s`, `250ms`; zero is `unlimited`.
pub(crate) fn human(d: Duration) -> String {
    if d.is_zero() {
        return "unlimited".into();
    }
    if d.subsec_millis() != 0 && d.as_secs() < 60 {
        return format!("{}ms", d.as_millis());
    }
    let mut s = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    out
}

fn stream_missing(e: &async_nats::jetstream::context::GetStreamError) -> bool {
    use async_nats::jetstream::context::GetStreamErrorKind;
    matches!(e.kind(), GetStreamErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

/// Whether a consumer-info error says that there is no such consumer.
pub(super) fn consumer_missing(kind: ConsumerInfoErrorKind) -> bool {
    match kind {
        ConsumerInfoErrorKind::NotFound => true,
        ConsumerInfoErrorKind::JetStream(j) => j.error_code() == ErrorCode::CONSUMER_NOT_FOUND,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_an_operator_writes_them() {
        assert_eq!(human(Duration::from_secs(14 * 86_400)), "14d");
        assert_eq!(human(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(human(Duration::from_secs(120)), "2m");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::ZERO), "unlimited");
    }

    #[test]
    fn a_stream_that_would_expire_records_before_they_die_is_refused() {
        let week = Duration::from_secs(7 * 86_400);
        assert!(check_ages("S", week * 2, week).is_ok());
        assert!(check_ages("S", Duration::ZERO, week).is_ok(), "no max_age");
        let e = check_ages("S", week, week + Duration::from_secs(330)).unwrap_err();
        assert_eq!(e.kind(), QueueErrorKind::Settings);
        let text = e.to_string();
        assert!(text.contains("keeps records 7d (max_age)"), "{text}");
        assert!(text.contains("(7d5m30s: --max-age"), "{text}");
    }

    #[test]
    fn differences_are_listed_field_by_field() {
        let settings = StreamSettings::default();
        let wanted = work_stream(&settings);
        assert!(stream_differences(&wanted, &wanted).is_empty());
        let found = stream::Config {
            num_replicas: 3,
            max_age: Duration::from_secs(86_400),
            ..wanted.clone()
        };
        assert_eq!(
            stream_differences(&found, &wanted),
            ["replicas 3 (asked 1)", "max_age 1d (asked 14d)"]
        );
        // A server that reports replicas 0 for one replica is the same.
        let zero = stream::Config {
            num_replicas: 0,
            ..wanted.clone()
        };
        assert!(stream_differences(&zero, &wanted).is_empty());
    }
}
