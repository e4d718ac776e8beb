//! `egressd verify`: fetch whoami URLs through a proxy endpoint and compare the address each
//! destination saw with the addresses expected (the self-hosted "verify egress IPs").

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cli::VerifyArgs;

const TIMEOUT: Duration = Duration::from_secs(10);

/// `scheme://[user:pass@]host:port[/path]`, split.
#[derive(Debug)]
struct Url {
    scheme: String,
    credentials: Option<(String, String)>,
    host: String,
    port: u16,
    path: String,
}

fn parse_url(text: &str, default_port: u16) -> Result<Url, String> {
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| format!("`{text}` is not a URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (credentials, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hp)) => {
            let (u, p) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            (Some((u.to_string(), p.to_string())), hp)
        }
        None => (None, authority),
    };
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("`{text}`: unclosed ["))?;
        let port = after
            .strip_prefix(':')
            .map(str::parse)
            .transpose()
            .map_err(|_| format!("`{text}`: bad port"))?;
        (h.to_string(), port.unwrap_or(default_port))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse().map_err(|_| format!("`{text}`: bad port"))?,
            ),
            None => (hostport.to_string(), default_port),
        }
    };
    Ok(Url {
        scheme: scheme.to_ascii_lowercase(),
        credentials,
        host,
        port,
        path,
    })
}

pub fn run(args: &VerifyArgs) -> Result<ExitCode, String> {
    let proxy = parse_url(&args.proxy, 3128)?;
    if proxy.scheme != "http" && proxy.scheme != "socks5" && proxy.scheme != "socks5h" {
        return Err(format!(
            "--proxy: scheme {} is not http or socks5",
            proxy.scheme
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut all_ok = true;
    for url in &args.whoami {
        let target = parse_url(url, 80)?;
        let seen =
            runtime.block_on(async { tokio::time::timeout(TIMEOUT, fetch(&proxy, &target)).await });
        let seen = match seen {
            Ok(Ok(ip)) => ip,
            Ok(Err(e)) => {
                println!("{url}: FAILED: {e}");
                all_ok = false;
                continue;
            }
            Err(_) => {
                println!("{url}: FAILED: no answer within {TIMEOUT:?}");
                all_ok = false;
                continue;
            }
        };
        let expected: Vec<&IpAddr> = args
            .expect
            .iter()
            .filter(|e| e.is_ipv4() == seen.is_ipv4())
            .collect();
        if expected.is_empty() {
            println!("{url}: seen {seen} (no expected address of that family given)");
        } else if expected.contains(&&seen) {
            println!("{url}: seen {seen}, expected {}: ok", join(&expected));
        } else {
            println!("{url}: seen {seen}, expected {}: MISMATCH", join(&expected));
            all_ok = false;
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn join(ips: &[&IpAddr]) -> String {
    ips.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

async fn fetch(proxy: &Url, target: &Url) -> Result<IpAddr, String> {
    let mut stream = TcpStream::connect((proxy.host.trim_matches(['[', ']']), proxy.port))
        .await
        .map_err(|e| format!("cannot reach the proxy {}:{}: {e}", proxy.host, proxy.port))?;
    let host_header = if target.host.contains(':') {
        format!("[{}]", target.host)
    } else {
        target.host.clone()
    };
    let request = if proxy.scheme == "http" {
        let auth = proxy.credentials.as_ref().map(|(u, p)| {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            format!("Proxy-Authorization: Basic {token}\r\n")
        });
        format!(
            "GET http://{host_header}:{}{} HTTP/1.1\r\nHost: {host_header}\r\n{}Connection: close\r\n\r\n",
            target.port,
            target.path,
            auth.unwrap_or_default()
        )
    } else {
        socks5_connect(&mut stream, proxy, target).await?;
        format!(
            "GET {} HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n",
            target.path
        )
    };
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("the response has no head")?;
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        return Err(format!("the proxy answered `{status}`"));
    }
    body.trim()
        .parse()
        .map_err(|_| format!("the whoami body `{}` is not an address", body.trim()))
}

async fn socks5_connect(stream: &mut TcpStream, proxy: &Url, target: &Url) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let method = if proxy.credentials.is_some() {
        2u8
    } else {
        0u8
    };
    stream.write_all(&[5, 1, method]).await.map_err(io)?;
    let mut sel = [0u8; 2];
    stream.read_exact(&mut sel).await.map_err(io)?;
    if sel[1] != method {
        return Err(format!("the SOCKS5 proxy chose method {:#04x}", sel[1]));
    }
    if let Some((u, p)) = &proxy.credentials {
        let mut msg = vec![1, u.len() as u8];
        msg.extend_from_slice(u.as_bytes());
        msg.push(p.len() as u8);
        msg.extend_from_slice(p.as_bytes());
        stream.write_all(&msg).await.map_err(io)?;
        let mut status = [0u8; 2];
        stream.read_exact(&mut status).await.map_err(io)?;
        if status[1] != 0 {
            return Err("the SOCKS5 proxy refused the credentials".into());
        }
    }
    let mut req = vec![5, 1, 0];
    match target.host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            req.push(1);
            req.extend_from_slice(&v4.octets());
        }
        Ok(IpAddr::V6(v6)) => {
            req.push(4);
            req.extend_from_slice(&v6.octets());
        }
        Err(_) => {
            req.push(3);
            req.push(target.host.len() as u8);
            req.extend_from_slice(target.host.as_bytes());
        }
    }
    req.extend_from_slice(&target.port.to_be_bytes());
    stream.write_all(&req).await.map_err(io)?;
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).await.map_err(io)?;
    if reply[1] != 0 {
        return Err(format!("the SOCKS5 proxy replied {:#04x}", reply[1]));
    }
    let rest = match reply[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        _ => return Err("the SOCKS5 reply has an unexpected address type".into()),
    };
    let mut skip = vec![0u8; rest];
    stream.read_exact(&mut skip).await.map_err(io)?;
    Ok(())
}
