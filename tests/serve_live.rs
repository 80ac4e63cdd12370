//! `expgrid serve`: the page and its data over real HTTP, a damaged run file, and a real
//! headless Chromium watching a run that a concurrent `expgrid run` trains.

mod browser;
mod report_fixture;
mod shared_data;

use shared_data::data_dir;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use browser::Browser;
use expgrid::rundir::RunDir;
use serde_json::Value;

/// A running `expgrid serve`; killed when dropped.
struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT/`
    url: String,
}

impl Server {
    fn start(dir: &Path, file: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_expgrid"))
            .args(["serve", file, "--port", "0"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect(&line).to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "bound to the loopback address by default: {line}");
        Server { child, url }
    }

    /// Status, content type and body of `GET path`.
    fn get(&self, path: &str) -> (u16, String, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut response = agent.get(&format!("{}{path}", self.url)).call().unwrap();
        let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
        (response.status().as_u16(), kind.unwrap_or_default(), response.body_mut().read_to_string().unwrap())
    }

    fn data(&self) -> Value {
        let (status, kind, body) = self.get("data.json?file=0");
        assert_eq!((status, kind.as_str()), (200, "application/json"), "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_answers_from_the_run_folders_and_survives_a_damaged_file() {
    let fixture = report_fixture::sweep();
    let server = Server::start(fixture.dir.path(), "sweep.yml");
    let (status, kind, page) = server.get("");
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    assert!(page.contains("\"poll\":\"data.json?file=0\""), "the served page polls");
    let data = server.data();
    assert_eq!(data["rows"].as_array().unwrap().len(), 4);
    assert_eq!(data["header"]["runs_done"], 5);

    // Another tool leaves a metrics.csv half written: that run is shown as damaged, naming
    // the file, the others as they are, until the file is whole again.
    let metrics = fixture.runs_dir().join("sweep/lr-0.001_width-16_seed-2/metrics.csv");
    let whole = std::fs::read_to_string(&metrics).unwrap();
    std::fs::write(&metrics, &whole[..whole.len() - 30]).unwrap();
    let data = server.data();
    let run = |data: &Value| {
        data["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["matrix_slug"] == "lr-0.001_width-16_seed-2")
            .cloned()
    };
    let damaged = run(&data).unwrap();
    assert_eq!(damaged["state"], "damaged");
    let error = damaged["error"].as_str().unwrap();
    assert!(error.contains("lr-0.001_width-16_seed-2/metrics.csv is damaged"), "{error}");
    assert_eq!(data["rows"].as_array().unwrap().len(), 4);
    std::fs::write(&metrics, &whole).unwrap();
    assert_eq!(run(&server.data()).unwrap()["state"], "done");

    // A new run appears without restarting the server.
    std::fs::remove_dir_all(fixture.runs_dir().join("sweep/lr-0.001_width-16_seed-1")).unwrap();
    assert_eq!(server.data()["header"]["runs_done"], 4);

    assert_eq!(server.get("nothing").0, 404);
    assert_eq!(
        server.get("data.json?file=1"),
        (404, "text/plain; charset=utf-8".into(), "no such file: use file=0 to file=0\n".into())
    );
}

/// One run that validates every 400 inputs: a new metrics row every second or two.
const LIVE: &str = "
experiment_name: live/run
train_set: {dataset: fmnist, split: train, shape: [1, 28, 28], limit: 1000}
validation_set: {dataset: fmnist, split: test, shape: [1, 28, 28], limit: 300}
batch_size: 50
learnrate: 0.003
optimizer: AdamW
loss_function: ce
max_inputs: 4000
validate_every: 400
probe: {samples: 200}
model: {encoder: conv, channels: [16, 16], code_size: 16, classes: 10}
";

#[test]
fn the_served_page_shows_new_validations_while_a_run_trains() {
    let Some(mut browser) = Browser::launch("the_served_page_shows_new_validations_while_a_run_trains")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("live.yml"), LIVE).unwrap();
    let server = Server::start(dir.path(), "live.yml");
    browser.open(&server.url);
    let row = "document.querySelector('#runs tr.run[data-run=\"live/run\"]')";
    assert_eq!(browser.eval(&format!("{row}.children[2].textContent")), "pending");

    let mut training = Command::new(env!("CARGO_BIN_EXE_expgrid"))
        .args(["run", "live.yml", "--data-dir"])
        .arg(data_dir())
        .current_dir(dir.path())
        .env("EXPGRID_OFFLINE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run_dir = RunDir::new(&dir.path().join("runs"), "live/run").unwrap();
    let mut seen = 0;
    let mut latencies = Vec::new();
    let mut running_with_eta = false;
    let deadline = Instant::now() + Duration::from_secs(300);
    while training.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the run took more than 5 minutes");
        // metrics.csv is replaced atomically: a read sees whole rows.
        let rows = run_dir.metrics().unwrap().len();
        if rows > seen {
            seen = rows;
            let shown = format!("Number({row}.children[4].textContent) >= {rows}");
            latencies.push(browser.wait_for(&shown, Duration::from_secs(10)));
            let state = browser.eval(&format!("{row}.children[2].textContent"));
            let eta = browser.eval(&format!("{row}.children[8].textContent"));
            running_with_eta |= state == "running" && !eta.as_str().unwrap().is_empty();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = training.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let done =
        browser.wait_for(&format!("{row}.children[2].textContent === 'done'"), Duration::from_secs(10));
    assert_eq!(browser.eval(&format!("{row}.children[4].textContent")), "10");
    eprintln!("new validation rows shown after {latencies:?} (polling every 2 s); done shown after {done:?}");
    assert!(latencies.len() >= 3, "validations seen while training: {}", latencies.len());
    assert!(running_with_eta, "a running run shows its ETA");
    assert!(latencies.iter().all(|l| *l < Duration::from_secs(5)), "{latencies:?}");
    assert_eq!(browser.errors(), Vec::<String>::new());

    // A half-written metrics.csv: the run shows as damaged with the file named; whole again: done.
    let metrics = dir.path().join("runs/live/run/metrics.csv");
    let whole = std::fs::read_to_string(&metrics).unwrap();
    std::fs::write(&metrics, &whole[..whole.len() / 2]).unwrap();
    browser.wait_for(&format!("{row}.children[2].textContent === 'damaged'"), Duration::from_secs(10));
    std::fs::write(&metrics, &whole).unwrap();
    browser.wait_for(&format!("{row}.children[2].textContent === 'done'"), Duration::from_secs(10));
    assert!(browser.requests().iter().all(|u| u.starts_with(&server.url)), "{:?}", browser.requests());
}
