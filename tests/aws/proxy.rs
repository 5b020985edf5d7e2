//! A fault-injecting HTTP proxy in front of the emulator: moto never throttles and
//! never expires iterators, so the answers AWS gives then are made here, exactly, for
//! the calls a rule picks; every other request goes through unchanged.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// What to answer instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 400 ProvisionedThroughputExceededException.
    Throttle,
    /// 400 ExpiredIteratorException.
    ExpireIterator,
    /// 503 with no body.
    Unavailable,
    /// 400 ThrottlingException (CloudWatch Logs' answer when its quota is used up).
    Throttling,
    /// A FilterLogEvents page with no events and a `nextToken`, as CloudWatch returns
    /// while it searches (injected only as the first page of a search); the request that
    /// continues with that token is sent upstream as the original one (without the
    /// token), so nothing is lost if the caller goes on.
    EmptyPage,
    /// 400 AccessDeniedException: the identity lacks the IAM action.
    AccessDenied,
}

/// The token of an injected empty page.
const EMPTY_PAGE_TOKEN: &str = "eksaudit-proxy-empty-page";

/// Decides, per call to an operation (the `X-Amz-Target` header, e.g.
/// `Kinesis_20131202.GetRecords`) and its 0-based count, whether to inject a fault.
pub type Rule = Box<dyn FnMut(&str, usize) -> Option<Fault> + Send>;

/// A running proxy.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Faults injected so far, by kind.
    pub injected: Arc<Mutex<Vec<Fault>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Shared {
    upstream: String,
    rule: Mutex<(Rule, std::collections::HashMap<String, usize>)>,
    injected: Arc<Mutex<Vec<Fault>>>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://host:port`) applying `rule`.
    pub fn start(upstream: &str, rule: Rule) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = Arc::new(AtomicBool::new(false));
        let injected = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            upstream: upstream.trim_start_matches("http://").to_string(),
            rule: Mutex::new((rule, Default::default())),
            injected: injected.clone(),
        });
        let stop_flag = stop.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop_flag.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let shared = shared.clone();
                thread::spawn(move || {
                    let _ = serve(conn, &shared);
                });
            }
        });
        Self {
            url,
            injected,
            stop,
        }
    }

    /// How many faults of `kind` were injected.
    pub fn count(&self, kind: Fault) -> usize {
        self.injected
            .lock()
            .map(|v| v.iter().filter(|f| **f == kind).count())
            .unwrap_or(0)
    }
}

/// Serves requests on one client connection until it closes.
fn serve(client: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            let end = line == b"\r\n";
            head.extend_from_slice(&line);
            if end {
                break;
            }
        }
        let text = String::from_utf8_lossy(&head).to_string();
        let header = |name: &str| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let target = header("x-amz-target").unwrap_or_default();
        // The continuation of an injected empty page: the original request.
        if let Some(original) = strip_empty_page_token(&body) {
            let head = with_content_length(&text, original.len());
            let response = forward(&shared.upstream, &head, &original)?;
            client.write_all(&response)?;
            client.flush()?;
            continue;
        }
        let fault = {
            let mut guard = shared.rule.lock().expect("rule lock");
            let (rule, counts) = &mut *guard;
            let count = counts.entry(target.clone()).or_default();
            let fault = rule(&target, *count);
            *count += 1;
            fault
        };
        // An empty page is injected only as the first page of a search: a
        // continuation goes on (else the search would never move forward).
        let continuation = memchr_find(&body, b"\"nextToken\"");
        let fault = fault.filter(|f| !(*f == Fault::EmptyPage && continuation));
        let response = match fault {
            Some(fault) => {
                shared.injected.lock().expect("lock").push(fault);
                fault_response(fault)
            }
            None => forward(&shared.upstream, &head, &body)?,
        };
        client.write_all(&response)?;
        client.flush()?;
    }
}

fn fault_response(fault: Fault) -> Vec<u8> {
    let (status, body) = match fault {
        Fault::Throttle => (
            "400 Bad Request",
            r#"{"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded for shard shardId-000000000000 in stream under account 123456789012."}"#,
        ),
        Fault::ExpireIterator => (
            "400 Bad Request",
            r#"{"__type":"ExpiredIteratorException","message":"Iterator expired. The iterator was created at time 0 while right now it is 300001 which is further in the future than the tolerated delay of 300000 milliseconds."}"#,
        ),
        Fault::Unavailable => ("503 Service Unavailable", ""),
        Fault::EmptyPage => (
            "200 OK",
            r#"{"events":[],"searchedLogStreams":[],"nextToken":"eksaudit-proxy-empty-page"}"#,
        ),
        Fault::Throttling => (
            "400 Bad Request",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ),
        Fault::AccessDenied => (
            "400 Bad Request",
            r#"{"__type":"AccessDeniedException","message":"User: arn:aws:sts::123456789012:user/moto is not authorized to perform this action"}"#,
        ),
    };
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends one request upstream on a fresh connection and returns the whole response,
/// re-framed with a content-length so the client's connection can be kept.
fn forward(upstream: &str, head: &[u8], body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut conn = TcpStream::connect(upstream)?;
    let head = String::from_utf8_lossy(head);
    let mut request = String::new();
    for line in head.split("\r\n") {
        if line.is_empty() || line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("connection: close\r\n\r\n");
    conn.write_all(request.as_bytes())?;
    conn.write_all(body)?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(response.len());
    let (head, rest) = response.split_at(split);
    let head = String::from_utf8_lossy(head);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    let mut out = String::new();
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if line.is_empty()
            || lower.starts_with("connection:")
            || lower.starts_with("content-length:")
            || lower.starts_with("transfer-encoding:")
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        data = &data[end + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// The request body without the injected empty page's token, if it carries it.
fn strip_empty_page_token(body: &[u8]) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object_mut()?;
    if object.get("nextToken")?.as_str()? != EMPTY_PAGE_TOKEN {
        return None;
    }
    object.remove("nextToken");
    serde_json::to_vec(&value).ok()
}

/// A request head with its content-length replaced.
fn with_content_length(head: &str, length: usize) -> Vec<u8> {
    let mut out = String::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        if line.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(&format!("content-length: {length}\r\n"));
        } else {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out.into_bytes()
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
