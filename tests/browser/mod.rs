//! Headless Chromium driven over the DevTools protocol (a WebSocket), for the tests of the
//! HTML report and `expgrid serve`: load a page, run script in it, click, read the DOM,
//! collect console errors and network requests, take a screenshot.
//!
//! Without Chromium the tests print that they were skipped and why; with `CI=true` a
//! missing Chromium fails them (`.ci/run` installs Debian's `chromium`).

#![allow(dead_code)] // each test file uses part of it

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// How long one DevTools call or page load may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The Chromium binary: `$EXPGRID_CHROMIUM`, or the first of the usual names on `PATH`.
fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("EXPGRID_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|dir| names.map(|n| dir.join(n))).find(|p| p.is_file())
}

/// A headless Chromium with one page; killed when dropped.
pub struct Browser {
    child: Child,
    ws: Socket,
    next_id: u64,
    /// Every DevTools event received so far.
    pub events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start Chromium, or `None` (after saying why the test is skipped) when there is none;
    /// with `CI=true` a missing Chromium is a test failure.
    pub fn launch(test: &str) -> Option<Browser> {
        let Some(binary) = find_chromium() else {
            let why = "no Chromium found (install Debian's `chromium`, or set EXPGRID_CHROMIUM)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: {why}; CI=true requires the browser tests to run");
            }
            // Straight to stderr: the test harness captures eprintln! of passing tests.
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
            return None;
        };
        Some(Browser::start(&binary))
    }

    fn start(binary: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--window-size=1400,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        // Chromium prints its DevTools address on stderr; keep draining stderr afterwards.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let browser_url = rx.recv_timeout(TIMEOUT).expect("Chromium did not print its DevTools address");
        let host = browser_url.trim_start_matches("ws://").split('/').next().unwrap().to_string();
        let list = ureq::get(&format!("http://{host}/json/list")).call().unwrap().body_mut().read_to_string();
        let targets: Value = serde_json::from_str(&list.unwrap()).unwrap();
        let page_url = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("Chromium has a page")
            .to_string();
        let ws = Socket::connect(&page_url);
        let mut browser = Browser { child, ws, next_id: 0, events: Vec::new(), _profile: profile };
        for domain in ["Page", "Runtime", "Network", "Log"] {
            browser.call(&format!("{domain}.enable"), json!({}));
        }
        browser
    }

    /// Send a DevTools command and wait for its result (events meanwhile are kept).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        self.ws.send(0x1, message.as_bytes());
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            let text = self.ws.read_text();
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["id"] == id {
                if let Some(error) = value.get("error") {
                    panic!("DevTools {method}: {error}");
                }
                return value["result"].clone();
            }
            self.events.push(value);
        }
        panic!("DevTools {method}: no answer within {TIMEOUT:?}");
    }

    /// Evaluate `expression` in the page (promises awaited) and return its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(details) = result.get("exceptionDetails") {
            panic!("script `{expression}` threw: {details}");
        }
        result["result"]["value"].clone()
    }

    /// Open `url` and wait until the report has rendered (`<html data-ready>`).
    pub fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        self.wait_for("document.documentElement?.dataset.ready === 'true'", TIMEOUT);
    }

    /// Poll `condition` (a script expression) until it is true; the time it took.
    pub fn wait_for(&mut self, condition: &str, timeout: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if self.eval(condition) == json!(true) {
                return start.elapsed();
            }
            if start.elapsed() > timeout {
                panic!("`{condition}` still false after {timeout:?}; errors: {:?}", self.errors());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Console errors, uncaught exceptions and errors logged by the browser (blocked
    /// requests included), and the page's own record of them.
    pub fn errors(&mut self) -> Vec<String> {
        let mut errors: Vec<String> = self
            .events
            .iter()
            .filter_map(|e| match e["method"].as_str()? {
                "Runtime.exceptionThrown" => Some(e["params"]["exceptionDetails"].to_string()),
                "Runtime.consoleAPICalled" if e["params"]["type"] == "error" => {
                    Some(e["params"]["args"].to_string())
                }
                "Log.entryAdded" if e["params"]["entry"]["level"] == "error" => {
                    Some(e["params"]["entry"]["text"].to_string())
                }
                _ => None,
            })
            .collect();
        if let Some(page) = self.eval("window.expgridErrors || []").as_array() {
            errors.extend(page.iter().map(|e| e.to_string()));
        }
        errors
    }

    /// The URLs of every request the page made.
    pub fn requests(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(String::from))
            .collect()
    }

    /// A PNG of the whole page (at most 5,000 pixels high) at `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let metrics = self.call("Page.getLayoutMetrics", json!({}));
        let size = &metrics["cssContentSize"];
        let clip = json!({
            "x": 0, "y": 0, "scale": 1,
            "width": size["width"].as_f64().unwrap_or(1400.0),
            "height": size["height"].as_f64().unwrap_or(1000.0).min(5000.0),
        });
        let shot = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true, "clip": clip }),
        );
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebSocket client just big enough for the DevTools protocol: masked text frames out,
/// text frames (maybe fragmented) in, pings answered. Hand-written on purpose: tungstenite
/// pulls in rand 0.9 with its default features, which changes the features burn is built
/// with, so every test build would compile burn again (15 minutes on 2 cores).
struct Socket {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Socket {
    /// Open `ws://host:port/path` (RFC 6455 client handshake).
    fn connect(url: &str) -> Socket {
        let rest = url.strip_prefix("ws://").expect("a ws:// URL");
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let mut writer = TcpStream::connect(host).unwrap();
        writer.set_read_timeout(Some(TIMEOUT)).unwrap();
        write!(
            writer,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(writer.try_clone().unwrap());
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 101 "), "WebSocket handshake refused: {status}");
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        Socket { reader, writer }
    }

    /// One frame with opcode `op` (1: text, 0xA: pong), masked as a client must.
    fn send(&mut self, op: u8, payload: &[u8]) {
        let mut frame = vec![0x80 | op];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65_536 => {
                frame.push(0x80 | 126);
                frame.extend((n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend((n as u64).to_be_bytes());
            }
        }
        let mask = [0x12, 0x34, 0x56, 0x78];
        frame.extend(mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.writer.write_all(&frame).unwrap();
    }

    /// The next text message.
    fn read_text(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.reader.read_exact(&mut head).expect("DevTools answers in time");
            let (fin, op) = (head[0] & 0x80 != 0, head[0] & 0x0f);
            let len = match head[1] & 0x7f {
                126 => {
                    let mut n = [0u8; 2];
                    self.reader.read_exact(&mut n).unwrap();
                    u16::from_be_bytes(n) as usize
                }
                127 => {
                    let mut n = [0u8; 8];
                    self.reader.read_exact(&mut n).unwrap();
                    u64::from_be_bytes(n) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0u8; len];
            self.reader.read_exact(&mut payload).unwrap();
            match op {
                0x0 | 0x1 => {
                    message.extend(payload);
                    if fin {
                        return String::from_utf8(message).unwrap();
                    }
                }
                0x8 => panic!("Chromium closed the DevTools connection"),
                0x9 => self.send(0xA, &payload),
                _ => {}
            }
        }
    }
}

/// A `file://` URL.
pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}
