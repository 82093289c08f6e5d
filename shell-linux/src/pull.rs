//! The pull endpoint: `GET /api/v1/allmetrics?format=prometheus`, as netdata serves it.
//!
//! A small HTTP/1.1 server on the daemon's event loop: non-blocking sockets, requests
//! parsed with `httparse`, one response per connection (`Connection: close`). Requests
//! larger than 8 KiB, or that do not finish within a few seconds, are refused. The
//! Prometheus text comes from the core's exposition writer; a scraper keeps its own
//! window (netdata remembers, per scraper, when it last asked).

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

use backhaul_core::format::prometheus::{Exposition, Format, PromQuery, Scrape};
use backhaul_core::time::Instant;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use crate::charts::ChartSet;
use crate::daemon::{Settings, FIRST_CLIENT};

/// The largest request accepted.
const MAX_REQUEST: usize = 8 * 1024;
/// The most clients served at once; more are refused.
const MAX_CLIENTS: usize = 64;
/// Scrapers remembered (netdata's table grows forever; this one forgets the oldest).
const MAX_SCRAPERS: usize = 256;

struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    request: Vec<u8>,
    response: Vec<u8>,
    sent: usize,
    since: Instant,
}

/// The listener and its clients.
pub struct PullServer {
    listener: TcpListener,
    addr: SocketAddr,
    clients: HashMap<Token, Client>,
    next_token: usize,
    /// The last scrape time per (server name): the start of the next window.
    scrapers: HashMap<String, i64>,
}

impl std::fmt::Debug for PullServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullServer")
            .field("addr", &self.addr)
            .field("clients", &self.clients.len())
            .finish_non_exhaustive()
    }
}

impl PullServer {
    /// Listens on `addr`.
    ///
    /// # Errors
    ///
    /// The address cannot be bound (in use, not local, no permission).
    pub fn bind(addr: SocketAddr, registry: &Registry, token: Token) -> io::Result<Self> {
        let mut listener = TcpListener::bind(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        registry.register(&mut listener, token, Interest::READABLE)?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            clients: HashMap::new(),
            next_token: FIRST_CLIENT,
            scrapers: HashMap::new(),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts pending connections.
    pub fn accept(&mut self, registry: &Registry) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, peer)) => {
                    if self.clients.len() >= MAX_CLIENTS {
                        continue; // dropped: closes the connection
                    }
                    let token = Token(self.next_token);
                    self.next_token = self.next_token.wrapping_add(1).max(FIRST_CLIENT);
                    if registry
                        .register(&mut stream, token, Interest::READABLE)
                        .is_ok()
                    {
                        self.clients.insert(
                            token,
                            Client {
                                stream,
                                peer,
                                request: Vec::with_capacity(1024),
                                response: Vec::new(),
                                sent: 0,
                                since: crate::clock::now(),
                            },
                        );
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    /// Reads a client's request, answers it, and closes the connection when done.
    pub fn client_ready(
        &mut self,
        registry: &Registry,
        token: Token,
        charts: &ChartSet,
        settings: &Settings,
        now: Instant,
    ) {
        let Some(client) = self.clients.get_mut(&token) else {
            return;
        };
        let mut done = false;
        if client.response.is_empty() {
            let mut buf = [0u8; 2048];
            loop {
                match client.stream.read(&mut buf) {
                    Ok(0) => {
                        done = true;
                        break;
                    }
                    Ok(n) => client.request.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        done = true;
                        break;
                    }
                }
                if client.request.len() > MAX_REQUEST {
                    break;
                }
            }
            if !done {
                if let Some(response) = respond(
                    &client.request,
                    client.peer,
                    charts,
                    settings,
                    &mut self.scrapers,
                    now,
                ) {
                    let client = self.clients.get_mut(&token).expect("present above");
                    client.response = response;
                    let _ = registry.reregister(
                        &mut client.stream,
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    );
                }
            }
        }
        let Some(client) = self.clients.get_mut(&token) else {
            return;
        };
        if !client.response.is_empty() {
            loop {
                match client.stream.write(&client.response[client.sent..]) {
                    Ok(0) => {
                        done = true;
                        break;
                    }
                    Ok(n) => {
                        client.sent += n;
                        if client.sent == client.response.len() {
                            done = true;
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        done = true;
                        break;
                    }
                }
            }
        }
        let stale = now.saturating_duration_since(client.since).as_millis() > 10_000;
        if done || stale {
            if let Some(mut c) = self.clients.remove(&token) {
                let _ = registry.deregister(&mut c.stream);
            }
        }
    }
}

/// The response to a complete request, or `None` if more bytes are needed.
fn respond(
    request: &[u8],
    peer: SocketAddr,
    charts: &ChartSet,
    settings: &Settings,
    scrapers: &mut HashMap<String, i64>,
    now: Instant,
) -> Option<Vec<u8>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let path = match req.parse(request) {
        Ok(httparse::Status::Complete(_)) => req.path.unwrap_or("/"),
        Ok(httparse::Status::Partial) if request.len() <= MAX_REQUEST => return None,
        Ok(httparse::Status::Partial) => {
            return Some(reply(413, "text/plain", b"request too large\n"));
        }
        Err(e) => {
            return Some(reply(
                400,
                "text/plain",
                format!("bad request: {e}\n").as_bytes(),
            ))
        }
    };
    if req.method != Some("GET") && req.method != Some("HEAD") {
        return Some(reply(405, "text/plain", b"only GET is served\n"));
    }
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    if route != "/api/v1/allmetrics" {
        return Some(reply(
            404,
            "text/plain",
            b"not found: try /api/v1/allmetrics?format=prometheus\n",
        ));
    }
    let decoded = percent_decode(query);
    let parsed = PromQuery::parse(&decoded, settings.pull_source, true);
    match parsed.format {
        Format::Prometheus | Format::PrometheusAllHosts => {}
        Format::Shell | Format::Json | Format::Unsupported(_) => {
            return Some(reply(
                400,
                "text/plain",
                b"only format=prometheus and format=prometheus_all_hosts are served\n",
            ));
        }
    }
    let server = parsed
        .server
        .map_or_else(|| peer.ip().to_string(), str::to_owned);
    let previous = scrapers.get(&server).copied();
    let scrape = Scrape::new(&server, now.as_secs(), previous, settings.pull_update_every);
    if scrapers.len() >= MAX_SCRAPERS && previous.is_none() {
        if let Some(oldest) = scrapers
            .iter()
            .min_by_key(|(_, t)| **t)
            .map(|(k, _)| k.clone())
        {
            scrapers.remove(&oldest);
        }
    }
    scrapers.insert(server.clone(), now.as_secs());
    let prefix = parsed.prefix.unwrap_or(&settings.pull_prefix).to_owned();
    let mut body = Vec::with_capacity(64 * 1024);
    let host = backhaul_core::format::HostMeta {
        prefix: &prefix,
        hostname: &settings.hostname,
        tags: "",
    };
    let exposition = Exposition::new(host, &parsed);
    charts.render_prometheus(&exposition, &scrape, &parsed, now, &mut body);
    Some(reply(200, "text/plain; version=0.0.4", &body))
}

/// A whole response with `body`.
fn reply(status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
    )
    .into_bytes();
    let _ = write!(out, "Content-Length: {}\r\n", body.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Decodes `%XX` escapes and `+` (as a space) in a query string.
fn percent_decode(query: &str) -> String {
    let bytes = query.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                if let Ok(v) = u8::from_str_radix(hex, 16) {
                    out.push(v);
                    i += 3;
                    continue;
                }
                out.push(b'%');
                i += 1;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries() {
        assert_eq!(percent_decode("a=b%20c+d"), "a=b c d");
        assert_eq!(percent_decode("x=%zz%4"), "x=%zz%4");
        assert_eq!(percent_decode("data=as%20collected"), "data=as collected");
    }

    #[test]
    fn replies() {
        let r = String::from_utf8(reply(404, "text/plain", b"x\n")).unwrap();
        assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(r.ends_with("Content-Length: 2\r\n\r\nx\n"));
    }
}
