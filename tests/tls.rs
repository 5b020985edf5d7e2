//! TLS of the webhook sink against a real TLS receiver with a self-signed certificate:
//! verification is on by default and never falls back (nothing is delivered, the log
//! says why), and the same receiver is trusted once its CA is given as `ca_file`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A receiver on 127.0.0.1 speaking TLS with `cert`: answers 200 to every complete
/// request; the number of requests it answered.
fn tls_receiver(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> (u16, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (config, count) = (config.clone(), count.clone());
            std::thread::spawn(move || {
                let Ok(session) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let tls = rustls::StreamOwned::new(session, conn);
                let _ = serve(tls, &count);
            });
        }
    });
    (port, answered)
}

fn serve(tls: impl Read + Write, count: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(tls);
    loop {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        count.fetch_add(1, Ordering::SeqCst);
        let conn = reader.get_mut();
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")?;
        conn.flush()?;
    }
}

fn audit_lines(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"tls-{i}","stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"list","user":{{"username":"alice"}},"stageTimestamp":"2026-11-30T10:00:00.000000Z"}}"#
            ) + "\n"
        })
        .collect()
}

#[test]
fn the_webhook_sink_verifies_tls_and_trusts_only_what_it_is_given() {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert_der = certified.cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let (port, answered) = tls_receiver(cert_der, key_der);
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, audit_lines(5)).unwrap();
    let source = format!("file://{}", events.display());
    let url = format!("https://127.0.0.1:{port}/k8s-audit");

    // Default: the platform's roots, which do not hold this certificate. Nothing is
    // delivered, the forwarder keeps retrying, and the log names the certificate.
    let log = dir.path().join("untrusted.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_eksaudit"))
        .args([
            "forward",
            "--source",
            &source,
            "--sink",
            &url,
            "--metrics-address",
            "off",
        ])
        .arg("--checkpoint-dir")
        .arg(dir.path().join("ck1"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut text = String::new();
    while start.elapsed() < Duration::from_secs(30) {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("Delivery failed") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        still_running,
        "an untrusted receiver is retried, not given up: {text}"
    );
    assert!(text.contains("Delivery failed"), "{text}");
    assert!(
        text.to_lowercase().contains("certificate"),
        "the log says why: {text}"
    );
    assert_eq!(
        answered.load(Ordering::SeqCst),
        0,
        "nothing sent to an unverified peer"
    );

    // With the receiver's certificate as ca_file: delivered, and the forwarder ends
    // with its file source.
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, certified.cert.pem()).unwrap();
    let config = dir.path().join("forward.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  - {source}\nsinks:\n  - type: webhook\n    url: {url}\n    ca_file: {}\ncheckpoint_dir: {}\nmetrics_address: \"off\"\n",
            ca.display(),
            dir.path().join("ck2").display()
        ),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_eksaudit"))
        .args(["forward", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(answered.load(Ordering::SeqCst) >= 1, "{stderr}");
    assert!(stderr.contains("events=5"), "{stderr}");
}
