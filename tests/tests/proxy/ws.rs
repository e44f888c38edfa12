//! A minimal WebSocket (RFC 6455) client and server for the proxy tests: the opening
//! handshake, and unfragmented text, binary and close frames — enough to prove that an
//! upgrade passes through the proxy byte for byte, and to see when it is closed.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
    Close,
}

/// An open WebSocket over TCP.
pub struct Ws {
    stream: TcpStream,
    /// Clients mask what they send; servers do not.
    client: bool,
}

/// The `Sec-WebSocket-Accept` for `key`.
pub fn accept_key(key: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}{GUID}").as_bytes(),
    );
    STANDARD.encode(digest.as_ref())
}

/// Opens `ws://<addr><path>` with `Host: host` and extra `headers`. Errors carry the status
/// line the server answered with.
pub async fn connect(
    addr: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Ws, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let key = STANDARD.encode(b"portcullis-test!");
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nhost: {host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-key: {key}\r\nsec-websocket-version: 13\r\n"
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let (status, response_headers) = read_head(&mut stream).await?;
    if !status.starts_with("HTTP/1.1 101") {
        return Err(status);
    }
    let accept = response_headers
        .iter()
        .find(|(k, _)| k == "sec-websocket-accept")
        .map(|(_, v)| v.as_str());
    if accept != Some(accept_key(&key).as_str()) {
        return Err(format!("bad Sec-WebSocket-Accept: {accept:?}"));
    }
    Ok(Ws {
        stream,
        client: true,
    })
}

/// Answers a client's opening handshake on `stream`; returns the socket and the request's
/// headers (names lower-case).
pub async fn accept(mut stream: TcpStream) -> Result<(Ws, Vec<(String, String)>), String> {
    let (_, headers) = read_head(&mut stream).await?;
    let key = headers
        .iter()
        .find(|(k, _)| k == "sec-websocket-key")
        .map(|(_, v)| v.clone());
    let upgrade = headers
        .iter()
        .any(|(k, v)| k == "upgrade" && v.eq_ignore_ascii_case("websocket"));
    let Some(key) = key.filter(|_| upgrade) else {
        let _ = stream
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
        return Err("not a WebSocket upgrade".into());
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-accept: {}\r\n\r\n",
        accept_key(&key)
    );
    stream
        .write_all(response.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        Ws {
            stream,
            client: false,
        },
        headers,
    ))
}

/// Reads an HTTP head: the first line and the headers (names lower-case).
async fn read_head(stream: &mut TcpStream) -> Result<(String, Vec<(String, String)>), String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return Err("head too large".into());
        }
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return Err("connection closed during the handshake".into()),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok((status, headers))
}

impl Ws {
    /// Sends one message.
    pub async fn send(&mut self, message: &Message) -> std::io::Result<()> {
        let (opcode, payload): (u8, &[u8]) = match message {
            Message::Text(t) => (1, t.as_bytes()),
            Message::Binary(b) => (2, b),
            Message::Close => (8, &[]),
        };
        let mut frame = vec![0x80 | opcode];
        let mask_bit = if self.client { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => frame.push(mask_bit | n as u8),
            n if n <= u16::MAX as usize => {
                frame.push(mask_bit | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(mask_bit | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if self.client {
            let mask = [0x5a, 0x17, 0xc3, 0x81];
            frame.extend_from_slice(&mask);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        } else {
            frame.extend_from_slice(payload);
        }
        self.stream.write_all(&frame).await
    }

    /// The next message; `None` when the connection ended (closed, reset, or garbage).
    pub async fn recv(&mut self) -> Option<Message> {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).await.ok()?;
        let opcode = head[0] & 0x0f;
        let masked = head[1] & 0x80 != 0;
        let len = match head[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                self.stream.read_exact(&mut b).await.ok()?;
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                self.stream.read_exact(&mut b).await.ok()?;
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let mut mask = [0u8; 4];
        if masked {
            self.stream.read_exact(&mut mask).await.ok()?;
        }
        let mut payload = vec![0u8; usize::try_from(len).ok()?];
        self.stream.read_exact(&mut payload).await.ok()?;
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        match opcode {
            1 => Some(Message::Text(String::from_utf8(payload).ok()?)),
            2 => Some(Message::Binary(payload)),
            8 => Some(Message::Close),
            _ => None,
        }
    }
}
