//! Outgoing HTTP/1.1 requests (webhook deliveries; an identity provider's discovery document,
//! keys and token endpoint). A request goes only to the addresses its URL's host resolves to,
//! each checked (`forbidden`) unless private targets are allowed, and connects to exactly those:
//! a name that changes its answer between the check and the connection (DNS rebinding) reaches
//! nothing else. Redirects are not followed; TLS uses the Mozilla roots built in.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;

/// A request to make.
pub struct Outgoing<'a> {
    pub method: hyper::Method,
    pub url: &'a Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

/// Its answer: the status and the start of the body (up to the limit asked for).
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Whether a target may not be reached from orgd: loopback, private, link-local (cloud metadata
/// services among them), shared, multicast, reserved and documentation ranges, in IPv4 and
/// IPv6, and IPv4 addresses carried in IPv6 (mapped, compatible, NAT64).
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) and IPv4-compatible (::/96) carry an IPv4 address.
            if (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4]) || s[0..6] == [0; 6] {
                let v4 =
                    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
                return v6.is_unspecified() || v6.is_loopback() || forbidden_v4(v4);
            }
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 among them)
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0100 && s[1..4] == [0; 3]) // discard
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16: 169.254.169.254 is the metadata service
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
}

/// The addresses `url` may be reached at: every address its host resolves to, each allowed
/// (unless `allow_private`). Checked at registration and again before every attempt, which
/// then connects to exactly these addresses (a name that changes its answer in between —
/// DNS rebinding — gains nothing).
pub async fn resolve(url: &Url, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let port = url.port_or_known_default().ok_or("has no port")?;
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(url::Host::Domain(name)) => {
            let lookup = tokio::net::lookup_host((name, port));
            tokio::time::timeout(Duration::from_secs(5), lookup)
                .await
                .map_err(|_| format!("the name {name} did not resolve in time"))?
                .map_err(|_| format!("the name {name} does not resolve"))?
                .collect()
        }
        None => return Err("must name a host".into()),
    };
    if addrs.is_empty() {
        return Err("the host has no address".into());
    }
    if !allow_private && let Some(bad) = addrs.iter().find(|a| forbidden(a.ip())) {
        return Err(format!(
            "resolves to {}, a loopback, private, link-local or reserved address, which this \
             installation does not allow as a target",
            bad.ip()
        ));
    }
    Ok(addrs)
}

/// Makes `req` (no timeout of its own: callers bound it), keeping at most `max_body` bytes of
/// the answer's body.
pub async fn send(
    req: Outgoing<'_>,
    allow_private: bool,
    max_body: usize,
) -> Result<Answer, String> {
    let addrs = resolve(req.url, allow_private).await?;
    let mut stream = None;
    let mut last = String::new();
    for addr in &addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    let stream = stream.ok_or(last)?;
    let _ = stream.set_nodelay(true);
    let url = req.url;
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let mut builder = hyper::Request::builder()
        .method(req.method)
        .uri(path)
        .header(hyper::header::HOST, host)
        .header(
            hyper::header::USER_AGENT,
            concat!("orgd/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in req.headers {
        builder = builder.header(name, value);
    }
    let request = builder
        .body(http_body_util::Full::new(req.body))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    if url.scheme() == "https" {
        let name = rustls::pki_types::ServerName::try_from(url.host_str().unwrap_or_default())
            .map_err(|e| format!("bad TLS name: {e}"))?
            .to_owned();
        let tls = tokio_rustls::TlsConnector::from(tls_config())
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        exchange(tls, request, max_body).await
    } else {
        exchange(stream, request, max_body).await
    }
}

/// One HTTP/1.1 request on `io` (no redirect is followed: a `3xx` is an answer like another).
async fn exchange<S>(
    io: S,
    request: hyper::Request<http_body_util::Full<Bytes>>,
    max_body: usize,
) -> Result<Answer, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
    let conn = tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut kept = Vec::new();
    while kept.len() < max_body {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    kept.extend_from_slice(&data);
                }
            }
            Some(Err(e)) => {
                conn.abort();
                return Err(format!("HTTP: {e}"));
            }
            None => break,
        }
    }
    conn.abort();
    kept.truncate(max_body);
    Ok(Answer { status, body: kept })
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: LazyLock<Arc<rustls::ClientConfig>> = LazyLock::new(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("TLS 1.2 and 1.3 are supported")
            .with_root_certificates(roots)
            .with_no_client_auth(),
        )
    });
    CONFIG.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_addresses_are_forbidden() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            assert!(forbidden(bad.parse().unwrap()), "{bad}");
        }
        for good in ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!forbidden(good.parse().unwrap()), "{good}");
        }
    }
}
