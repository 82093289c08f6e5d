//! HTTPS destinations against VictoriaMetrics' own TLS listener (`-tls`), with a
//! certificate authority made by the test: remote write arrives when the CA is trusted;
//! a wrong CA and a wrong host name are refused (and nothing is sent in plaintext).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backhaul_tests::daemon::{wait_until, Launch};
use backhaul_tests::peers::{self, TempDir};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

fn make_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// VictoriaMetrics serving HTTPS (on 127.0.0.1) with a certificate for `localhost` only.
struct TlsVictoria {
    child: Child,
    addr: std::net::SocketAddr,
    ca_file: PathBuf,
    other_ca_file: PathBuf,
    _dir: TempDir,
}

impl TlsVictoria {
    fn start() -> Self {
        let tmp = TempDir::new("tls-vm");
        let dir = tmp.path();
        let ca = make_ca("backhaul test CA");
        let other = make_ca("another CA");
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let cert_file = write("server.pem", &cert.pem());
        let key_file = write("server.key", &key.serialize_pem());
        let ca_file = write("ca.pem", &ca.pem());
        let other_ca_file = write("other.pem", &other.pem());
        let addr = peers::free_addr();
        let child = Command::new("victoria-metrics")
            .arg(format!("-storageDataPath={}", dir.join("data").display()))
            .arg(format!("-httpListenAddr={addr}"))
            .arg("-tls")
            .arg(format!("-tlsCertFile={}", cert_file.display()))
            .arg(format!("-tlsKeyFile={}", key_file.display()))
            .arg("-search.latencyOffset=0s")
            .arg("-search.disableCache")
            .arg("-loggerLevel=WARN")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("peer not installed: victoria-metrics (run scripts/peers.sh install)");
        let vm = Self {
            child,
            addr,
            ca_file,
            other_ca_file,
            _dir: tmp,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while vm.curl("/health").as_deref() != Some("OK") {
            assert!(
                Instant::now() < deadline,
                "victoria-metrics with TLS did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        vm
    }

    /// A GET over HTTPS trusting the test CA, with curl.
    fn curl(&self, path_and_query: &str) -> Option<String> {
        let out = Command::new("curl")
            .args(["-sf", "--cacert"])
            .arg(&self.ca_file)
            .arg(format!(
                "https://localhost:{}{path_and_query}",
                self.addr.port()
            ))
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Series names of everything stored.
    fn series(&self) -> Vec<String> {
        let _ = self.curl("/internal/force_flush");
        self.curl("/api/v1/label/__name__/values")
            .map(|body| {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                v["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TlsVictoria {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs backhaul with one remote-write-over-HTTPS destination until `ready` says so (it
/// is polled with the daemon's log; 30 s at most), stops it and returns its log.
fn run(destination: &str, ca_file: &Path, ready: impl FnMut(&str) -> bool) -> String {
    run_section(
        "prometheus_remote_write:https:secure",
        destination,
        ca_file,
        "    remote write URL path = /api/v1/write\n",
        ready,
    )
}

/// Runs backhaul with one HTTPS section until `ready` holds for its log, stops it with
/// `SIGTERM` (it must exit cleanly) and returns its whole log, exit report included.
fn run_section(
    section: &str,
    destination: &str,
    ca_file: &Path,
    extra: &str,
    mut ready: impl FnMut(&str) -> bool,
) -> String {
    let config = format!(
        "[{section}]\n    destination = {destination}\n    update every = 1\n    CA file = {}\n    send charts matching = system.*\n    timeout ms = 3000\n{extra}",
        ca_file.display()
    );
    let mut daemon = Launch::new(env!("CARGO_BIN_EXE_backhaul"), "graphite", &config).start();
    wait_until("the outcome in the log", Duration::from_secs(30), || {
        ready(&daemon.log())
    })
    .unwrap_or_else(|e| panic!("{e}; log:\n{}", daemon.log()));
    daemon.stop();
    daemon.log()
}

#[test]
fn https_remote_write_with_a_trusted_ca_arrives() {
    let vm = TlsVictoria::start();
    let wanted = "netdata_system_cpu_percentage_average";
    let log = run(
        &format!("localhost:{}", vm.addr.port()),
        &vm.ca_file,
        |_| vm.series().iter().any(|s| s == wanted),
    );
    assert!(log.contains("secure: connected to localhost:"), "{log}");
    let series = vm.series();
    assert!(
        series
            .iter()
            .any(|s| s == "netdata_system_cpu_percentage_average"),
        "{series:?}\n{log}"
    );
    let delivered = log
        .lines()
        .find(|l| l.contains("secure: ") && l.contains(" records delivered"))
        .unwrap_or_default()
        .to_owned();
    assert!(delivered.ends_with(", 0 lost"), "{log}");
    assert!(!delivered.contains(": 0 records delivered"), "{log}");
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let vm = TlsVictoria::start();
    let refused = "TLS: the certificate of localhost is not trusted";
    let log = run(
        &format!("localhost:{}", vm.addr.port()),
        &vm.other_ca_file,
        // Refused at two connection attempts: it does not fall back to plaintext.
        |log| log.matches(refused).count() >= 2,
    );
    assert!(
        log.contains("TLS: the certificate of localhost is not trusted"),
        "{log}"
    );
    assert!(!log.contains("secure: connected to"), "{log}");
    assert!(vm.series().is_empty(), "nothing may arrive");
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let vm = TlsVictoria::start();
    // The certificate names localhost only; connect to the same server by its address.
    let log = run(
        &format!("127.0.0.1:{}", vm.addr.port()),
        &vm.ca_file,
        |log| log.matches("is not valid for 127.0.0.1").count() >= 2,
    );
    assert!(log.contains("is not valid for 127.0.0.1"), "{log}");
    assert!(vm.series().is_empty(), "nothing may arrive");
}
