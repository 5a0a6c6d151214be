//! A real mosquitto for the MQTT tests: on free loopback ports, with its own configuration
//! and directory, stopped (and restartable on the same ports) by the test; a publisher that
//! sends at QoS 0 as The Things Stack does; a test CA for `mqtts://`. Every wait is bounded.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, QoS};

/// The mosquitto binary: on the PATH, or where Debian puts it.
fn binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("mosquitto"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "mosquitto is not installed: run the tests with .ci/test, which installs it \
                 (Debian's mosquitto package)"
            )
        })
}

/// A free port on 127.0.0.1 (the OS's pick, let go at once).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA made for the test, and a certificate it signed for 127.0.0.1 and localhost.
pub(crate) struct TestCa {
    /// The CA's certificate (PEM).
    pub(crate) ca_pem: String,
    /// The server's certificate (PEM) and key (PEM).
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

impl TestCa {
    /// A CA named `name`, and the certificate it signed.
    pub(crate) fn new(name: &str) -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, name);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut server =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let cert_pem = server.signed_by(&key, &issuer).unwrap().pem();
        TestCa {
            ca_pem,
            cert_pem,
            key_pem: key.serialize_pem(),
        }
    }
}

/// How the broker is set up.
#[derive(Default)]
pub(crate) struct Setup<'a> {
    /// A TLS listener too, with this CA's server certificate.
    pub(crate) tls: Option<&'a TestCa>,
    /// Only this user, with this password, may connect (no anonymous clients).
    pub(crate) user: Option<(&'a str, &'a str)>,
}

/// A running mosquitto.
pub(crate) struct Mosquitto {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// The plain listener's port.
    pub(crate) port: u16,
    /// The TLS listener's port, when there is one.
    pub(crate) tls_port: Option<u16>,
}

impl Mosquitto {
    /// Starts a broker on free ports and waits until it listens. A port chosen free can be
    /// taken by another socket before mosquitto binds it (a connection elsewhere in the test
    /// run gets it as its ephemeral port): then it is started again on new ports, 5 times at
    /// most.
    pub(crate) fn start(setup: Setup<'_>) -> Mosquitto {
        for attempt in 1..=5 {
            match Mosquitto::try_start(&setup) {
                Ok(broker) => return broker,
                Err(message)
                    if attempt < 5
                        && message
                            .to_ascii_lowercase()
                            .contains("address already in use") =>
                {
                    continue;
                }
                Err(message) => panic!("{message}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    fn try_start(setup: &Setup<'_>) -> Result<Mosquitto, String> {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        // mosquitto drops QoS 0 messages for a subscriber more than 1000 behind (its default
        // max_queued_messages): the tests' publisher must not outrun an ingester on a busy
        // machine, so the queue has no limit here.
        let mut conf = String::from(
            "persistence false\nlog_type error\nlog_type warning\nlog_type notice\n\
             log_type information\nper_listener_settings false\nmax_queued_messages 0\n",
        );
        conf += &format!(
            "log_dest file {}\n",
            dir.path().join("mosquitto.log").display()
        );
        // As root it would switch to the mosquitto user, who cannot read the test's files.
        if is_root() {
            conf += "user root\n";
        }
        match setup.user {
            Some((user, password)) => {
                let file = dir.path().join("passwords");
                std::fs::write(&file, "").unwrap();
                let status = Command::new("mosquitto_passwd")
                    .arg("-b")
                    .arg(&file)
                    .args([user, password])
                    .status()
                    .expect("mosquitto_passwd (Debian's mosquitto package; .ci/test installs it)");
                assert!(status.success());
                conf += &format!("allow_anonymous false\npassword_file {}\n", file.display());
            }
            None => conf += "allow_anonymous true\n",
        }
        conf += &format!("listener {port} 127.0.0.1\n");
        let tls_port = setup.tls.map(|ca| {
            let tls_port = free_port();
            let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
            std::fs::write(&cert, &ca.cert_pem).unwrap();
            std::fs::write(&key, &ca.key_pem).unwrap();
            conf += &format!(
                "listener {tls_port} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
                cert.display(),
                key.display()
            );
            tls_port
        });
        std::fs::write(dir.path().join("mosquitto.conf"), conf).unwrap();
        let mut broker = Mosquitto {
            child: None,
            dir,
            port,
            tls_port,
        };
        broker.try_run()?;
        Ok(broker)
    }

    fn run(&mut self) {
        if let Err(message) = self.try_run() {
            panic!("{message}");
        }
    }

    /// Starts the process on its configuration and waits (10 s at most) until every listener
    /// takes connections; says why not.
    fn try_run(&mut self) -> Result<(), String> {
        let child = Command::new(binary())
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in [Some(self.port), self.tls_port].into_iter().flatten() {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                    return Err(format!("mosquitto exited ({status}): {}", self.log()));
                }
                if Instant::now() >= deadline {
                    return Err(format!("mosquitto did not listen: {}", self.log()));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// What mosquitto logged.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// SIGTERM, and waits (10 s at most) for it to end.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("mosquitto did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it again on the same ports.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.run();
    }

    pub(crate) fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Publishes `messages` (topic, payload) at QoS 0 through the plain listener on `port`, as
/// The Things Stack and ChirpStack do; returns once every one has been written to the broker
/// and the connection closed (30 s at most).
pub(crate) async fn publish(port: u16, user: Option<(&str, &str)>, messages: &[(String, Vec<u8>)]) {
    let mut options = MqttOptions::new(
        format!("test-pub-{:x}", fastrand::u64(..)),
        "127.0.0.1",
        port,
    );
    options.set_max_packet_size(1 << 20, 1 << 20);
    if let Some((u, p)) = user {
        options.set_credentials(u, p);
    }
    let (client, mut events) = AsyncClient::new(options, 64);
    let n = messages.len();
    assert!(n > 0);
    let sent = async {
        let mut published = 0;
        loop {
            match events.poll().await.expect("the publisher's connection") {
                Event::Outgoing(Outgoing::Publish(_)) => {
                    published += 1;
                    if published == n {
                        client.try_disconnect().unwrap();
                    }
                }
                Event::Outgoing(Outgoing::Disconnect) => return published,
                _ => {}
            }
        }
    };
    let send = async {
        for (topic, payload) in messages {
            client
                .publish(topic.as_str(), QoS::AtMostOnce, false, payload.clone())
                .await
                .unwrap();
        }
    };
    let (published, ()) =
        tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(sent, send) })
            .await
            .expect("publishing took more than 30 s");
    assert_eq!(published, n);
}
