//! Shared helpers: an in-process server on 127.0.0.1:0 and a small protocol client.

use futures_util::{SinkExt, StreamExt};
use loginstorm::policy::Platform;
use loginstorm::protocol::{Event, Response, ServerFrame};
use loginstorm::run::Finished;
use loginstorm::server::{self, ServerConfig, ServerHandle, DEV_KEY, DEV_SDKAPPID};
use loginstorm::usersig;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for something that must happen.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long a test watches for something that must not happen.
pub const QUIET: Duration = Duration::from_millis(300);

pub fn start(f: impl FnOnce(&mut ServerConfig)) -> ServerHandle {
    let mut cfg = ServerConfig {
        workers: 2,
        ..ServerConfig::default()
    };
    f(&mut cfg);
    server::start(cfg).expect("server starts")
}

pub fn sig(user: &str) -> String {
    usersig::generate(
        DEV_SDKAPPID,
        DEV_KEY,
        user,
        loginstorm::unix_now(),
        86400,
        None,
    )
}

pub fn sig_at(user: &str, time: u64, expire: u64) -> String {
    usersig::generate(DEV_SDKAPPID, DEV_KEY, user, time, expire, None)
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u32,
    pub data: Value,
    pub message: Option<String>,
}

impl From<Response> for Reply {
    /// `data` as JSON, so tests read fields the way a client of any language would.
    fn from(r: Response) -> Reply {
        Reply {
            code: r.code,
            data: r
                .data
                .map(|d| serde_json::to_value(d).unwrap())
                .unwrap_or(Value::Null),
            message: r.message,
        }
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    seq: u64,
    /// Events (and unmatched responses) read while waiting for something else.
    backlog: VecDeque<ServerFrame>,
}

impl Client {
    pub async fn connect(h: &ServerHandle) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(h.url())
            .await
            .expect("websocket connects");
        Client {
            ws,
            seq: 0,
            backlog: VecDeque::new(),
        }
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.ws.send(m).await.expect("send");
    }

    /// Read the next frame from the wire (not the backlog), or None when closed.
    pub async fn read_frame(&mut self) -> Option<ServerFrame> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Err(_) => panic!("no frame within {WAIT:?}"),
                Ok(None) | Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(Message::Text(t)))) => {
                    return Some(ServerFrame::parse(t.as_str()).expect("server frames parse"))
                }
                Ok(Some(Ok(Message::Close(_)))) => return None,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Send a request (seq assigned here) and wait for its response; events seen meanwhile are kept.
    pub async fn request(&mut self, mut body: Value) -> Reply {
        self.seq += 1;
        let seq = self.seq;
        body["seq"] = json!(seq);
        self.send_raw(Message::text(body.to_string())).await;
        self.response_to(seq).await
    }

    pub async fn response_to(&mut self, seq: u64) -> Reply {
        let found = self
            .backlog
            .iter()
            .position(|f| matches!(f, ServerFrame::Response(r) if r.seq == seq));
        if let Some(ServerFrame::Response(r)) = found.and_then(|i| self.backlog.remove(i)) {
            return Reply::from(r);
        }
        loop {
            match self.read_frame().await.expect("connection open") {
                ServerFrame::Response(r) if r.seq == seq => return Reply::from(r),
                other => self.backlog.push_back(other),
            }
        }
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub async fn login_as(&mut self, user: &str, platform: Platform, sig: &str) -> Reply {
        self.request(json!({"op":"login","sdkAppID":DEV_SDKAPPID,"userID":user,"userSig":sig,"platform":platform.name()}))
            .await
    }

    pub async fn login(&mut self, user: &str, platform: Platform) -> Reply {
        let s = sig(user);
        self.login_as(user, platform, &s).await
    }

    /// Log in and wait for sdkStateReady.
    pub async fn login_ready(&mut self, user: &str, platform: Platform) {
        let r = self.login(user, platform).await;
        assert_eq!(r.code, 0, "login of {user}: {r:?}");
        assert_eq!(r.data["repeatLogin"], json!(false));
        assert_eq!(self.next_event().await, ServerFrame::Event(Event::Ready));
    }

    pub async fn logout(&mut self) -> Reply {
        self.request(json!({"op":"logout"})).await
    }

    pub async fn send_message(&mut self, to: &str, text: &str) -> Reply {
        self.request(json!({"op":"sendMessage","to":to,"text":text}))
            .await
    }

    pub async fn ping(&mut self) -> Reply {
        self.request(json!({"op":"ping"})).await
    }

    pub async fn next_event(&mut self) -> ServerFrame {
        if let Some(f) = self.backlog.pop_front() {
            return f;
        }
        self.read_frame().await.expect("connection open")
    }

    /// Assert nothing arrives for a while (a ping round trip first flushes the server's queue).
    pub async fn expect_quiet(&mut self) {
        assert!(
            self.backlog.is_empty(),
            "unexpected frames: {:?}",
            self.backlog
        );
        tokio::time::sleep(QUIET).await;
        let r = self.ping().await;
        assert_eq!(r.code, 0);
        assert!(
            self.backlog.is_empty(),
            "unexpected frames: {:?}",
            self.backlog
        );
    }
}

/// POST to the admin REST API (HTTP/1.1 written plainly: this is a test client).
pub async fn rest(h: &ServerHandle, command: &str, query: &str, body: &Value) -> Value {
    let mut s = TcpStream::connect(h.addr).await.expect("tcp connects");
    let body = body.to_string();
    let req = format!(
        "POST /v4/{command}?{query} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        h.addr,
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("REST answers")
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

pub fn admin_query() -> String {
    format!(
        "sdkappid={DEV_SDKAPPID}&identifier=administrator&usersig={}&random=7&contenttype=json",
        sig("administrator")
    )
}

impl Client {
    pub fn ws_mut(&mut self) -> &mut WebSocketStream<MaybeTlsStream<TcpStream>> {
        &mut self.ws
    }
}

/// A self-cleaning temporary directory.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "loginstorm-test-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run scenario text (with `--set`-style overrides) in-process against the embedded server.
pub fn run_text(toml: &str, overrides: &[&str]) -> (Finished, TempDir) {
    let dir = TempDir::new();
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, toml).unwrap();
    let overrides = loginstorm::scenario::Overrides::sets(overrides);
    let resolved = loginstorm::scenario::load(&path, &overrides).unwrap();
    let r = crate::util::execute(resolved, crate::util::quiet(dir.path().join("reports")));
    (r, dir)
}

/// Options of a quiet in-process run.
pub fn quiet(out_dir: std::path::PathBuf) -> loginstorm::run::Options {
    loginstorm::run::Options {
        out_dir,
        quiet: true,
        ..Default::default()
    }
}

/// The whole `run` pipeline in-process (reports, thresholds, verdict), its stdout discarded.
pub fn execute(resolved: loginstorm::scenario::Resolved, o: loginstorm::run::Options) -> Finished {
    loginstorm::run::execute(resolved, o, &mut std::io::sink()).unwrap()
}

/// A loopback port nothing listens on now (bound and released: a test that needs a fixed port
/// it must write into a command or a configuration).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real binary.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_loginstorm"))
}

/// Start `loginstorm serve` on a free port; returns the child and the URL from its first line.
pub fn spawn_serve() -> (std::process::Child, String) {
    spawn_serve_with(&[])
}

/// `spawn_serve` with extra `serve` flags (a stricter limit, another key, a fault).
pub fn spawn_serve_with(args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_string();
    (child, url)
}

/// Run the real binary to its end; returns (exit code, stdout, the report directory).
pub fn run_bin(args: &[&str], out: &std::path::Path) -> (Option<i32>, String, std::path::PathBuf) {
    let o = bin()
        .arg("run")
        .args(args)
        .args(["--quiet", "--out"])
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let dirs: Vec<_> = std::fs::read_dir(out)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert_eq!(
        dirs.len(),
        1,
        "one report directory: {stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), stdout, dirs[0].clone())
}

/// A WebSocket server that accepts every connection and never answers anything.
pub fn spawn_silent_backend() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await {
                        while let Some(Ok(_)) = ws.next().await {}
                    }
                });
            }
        });
    });
    url
}

/// The one report directory a run wrote under `out`.
pub fn only_report_dir(out: &std::path::Path) -> std::path::PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// A report directory's run.json.
pub fn run_json(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
}

/// Ctrl-C to process `pid`, as a terminal sends it.
pub fn interrupt(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
}
