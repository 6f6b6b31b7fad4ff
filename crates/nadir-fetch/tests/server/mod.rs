//! A loopback HTTP/1.1 server for the download tests (also used by the CLI's through
//! `#[path]`): each path answers as the test says, one connection at a time. Each test crate
//! uses only some answers, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How a path answers.
#[derive(Clone)]
pub enum Answer {
    /// 200 with this body.
    Body(Vec<u8>),
    /// 200 announcing this body's whole length, then only its first half before the
    /// connection closes.
    Cut(Vec<u8>),
    /// 302 to this path.
    Redirect(String),
}

pub struct Server {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    requests: Arc<AtomicUsize>,
}

impl Server {
    /// Serves `routes` on a free loopback port until the test process ends; other paths
    /// answer 404.
    pub fn start(routes: Vec<(&str, Answer)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Vec<(String, Answer)> = routes
            .into_iter()
            .map(|(path, answer)| (path.to_string(), answer))
            .collect();
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let Some(path) = request_path(&stream) else {
                    continue;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let answer = routes.iter().find(|(p, _)| *p == path).map(|(_, a)| a);
                // A client that went away is the test's failure to report, not the server's.
                let _ = respond(stream, answer);
            }
        });
        Server { base, requests }
    }

    /// Requests answered or being answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// The request's path, its head read to the blank line.
fn request_path(stream: &TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header == "\r\n" {
            return Some(path);
        }
    }
}

fn respond(mut stream: TcpStream, answer: Option<&Answer>) -> std::io::Result<()> {
    let head = |status: &str, length: usize, extra: &str| {
        format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\n{extra}Connection: close\r\n\r\n")
    };
    match answer {
        Some(Answer::Body(body)) => {
            stream.write_all(head("200 OK", body.len(), "").as_bytes())?;
            stream.write_all(body)?;
        }
        Some(Answer::Cut(body)) => {
            stream.write_all(head("200 OK", body.len(), "").as_bytes())?;
            stream.write_all(&body[..body.len() / 2])?;
        }
        Some(Answer::Redirect(to)) => {
            let location = format!("Location: {to}\r\n");
            stream.write_all(head("302 Found", 0, &location).as_bytes())?;
        }
        None => {
            let body = b"not found";
            stream.write_all(head("404 Not Found", body.len(), "").as_bytes())?;
            stream.write_all(body)?;
        }
    }
    stream.flush()?;
    stream.shutdown(Shutdown::Both)
}
