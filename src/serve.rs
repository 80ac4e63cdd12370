//! `expgrid serve`: the HTML report of experiment files, served from a local web server
//! and refreshed from the run folders while runs train.
//!
//! | path | content |
//! | --- | --- |
//! | `/` | the report page (with several files: a list of them) |
//! | `/?file=N` | the page of the N-th file (0-based) |
//! | `/data.json?file=N` | the page's data, read afresh from the run folders; the page polls it |
//!
//! The server only reads: run folders are written atomically by `expgrid run`, so a read
//! sees a whole file or the previous one. A run file that cannot be read (damaged, or half
//! written by another tool) shows that run as damaged, as the report does; an experiment
//! file that no longer loads makes `data.json` answer `{"error": ...}`, and the page keeps
//! the numbers it has and shows the error until the next refresh succeeds.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use serde_json::json;

use crate::config::Experiment;
use crate::report::Stamp;
use crate::report::collect::Collected;
use crate::report::html::PageData;
use crate::report::table::TableOptions;

/// What `expgrid serve` serves, and where.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Experiment files (YAML).
    pub files: Vec<PathBuf>,
    /// The port to listen on (0: any free port).
    pub port: u16,
    /// The address to listen on.
    pub host: String,
    /// The folder holding the run folders.
    pub runs_dir: PathBuf,
}

/// A server listening for the report pages of [`ServeOptions::files`].
pub struct Server {
    http: tiny_http::Server,
    options: ServeOptions,
}

/// A response: status, content type and body.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
}

impl Reply {
    fn new(status: u16, content_type: &'static str, body: String) -> Reply {
        Reply { status, content_type, body }
    }
}

impl Server {
    /// Check that every file loads (a typo is an error now, not a broken page later), then
    /// listen.
    pub fn bind(options: ServeOptions) -> Result<Server> {
        for file in &options.files {
            Experiment::load(file).map_err(|errors| anyhow!("{errors}"))?;
        }
        let http = tiny_http::Server::http((options.host.as_str(), options.port))
            .map_err(|err| anyhow!("cannot listen on {}:{}: {err}", options.host, options.port))?;
        Ok(Server { http, options })
    }

    /// The address it listens on (with the port chosen when 0 was asked for).
    pub fn address(&self) -> Result<SocketAddr> {
        self.http.server_addr().to_ip().context("the server has no IP address")
    }

    /// Answer requests until the process is stopped.
    pub fn run(&self) {
        for request in self.http.incoming_requests() {
            let reply = if *request.method() == tiny_http::Method::Get {
                route(&self.options, request.url())
            } else {
                Reply::new(405, "text/plain; charset=utf-8", "only GET is served\n".into())
            };
            let response = tiny_http::Response::from_string(reply.body)
                .with_status_code(reply.status)
                .with_header(header("Content-Type", reply.content_type))
                .with_header(header("Cache-Control", "no-store"));
            // A browser that went away before the answer is not an error of the server.
            let _ = request.respond(response);
        }
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid ASCII header")
}

/// The answer to `GET url`.
fn route(options: &ServeOptions, url: &str) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let file = query.split('&').find_map(|pair| pair.strip_prefix("file=")).map(str::parse::<usize>);
    let index = match file {
        None => None,
        Some(Ok(i)) if i < options.files.len() => Some(i),
        Some(_) => {
            let text = format!("no such file: use file=0 to file={}\n", options.files.len() - 1);
            return Reply::new(404, "text/plain; charset=utf-8", text);
        }
    };
    match path {
        "/" => match index {
            None if options.files.len() > 1 => {
                Reply::new(200, "text/html; charset=utf-8", index_page(options))
            }
            index => page(options, index.unwrap_or(0)),
        },
        "/data.json" => {
            let body = match page_data(options, index.unwrap_or(0)).and_then(|data| data.to_json()) {
                Ok(json) => json,
                Err(err) => json!({ "error": format!("{err:#}") }).to_string(),
            };
            Reply::new(200, "application/json", body)
        }
        _ => Reply::new(404, "text/plain; charset=utf-8", format!("not found: {path}\n")),
    }
}

/// The report page of file `index`, set to poll its data.
fn page(options: &ServeOptions, index: usize) -> Reply {
    match page_data(options, index).and_then(|data| data.to_html()) {
        Ok(html) => Reply::new(200, "text/html; charset=utf-8", html),
        Err(err) => Reply::new(
            503,
            "text/plain; charset=utf-8",
            format!("error: {err:#}\n\nReload the page once the run folders can be read.\n"),
        ),
    }
}

fn page_data(options: &ServeOptions, index: usize) -> Result<PageData> {
    let collected = Collected::load(&options.files[index], &options.runs_dir)?;
    let mut data = PageData::new(&collected, &TableOptions::default(), &Stamp::now())?;
    data.poll = Some(format!("data.json?file={index}"));
    Ok(data)
}

/// Links to the page of every file.
fn index_page(options: &ServeOptions) -> String {
    let links: String = options
        .files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let name = file.display().to_string().replace('&', "&amp;").replace('<', "&lt;");
            format!("<li><a href=\"/?file={i}\">{name}</a></li>\n")
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">\
         <title>expgrid serve</title></head>\n<body><h1>expgrid serve</h1>\n<ul>\n{links}</ul></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_paths_and_files_are_not_found() {
        let args = ServeOptions {
            files: vec!["a.yml".into()],
            port: 0,
            host: "127.0.0.1".into(),
            runs_dir: "runs".into(),
        };
        let reply = route(&args, "/etc/passwd");
        assert_eq!((reply.status, reply.body.as_str()), (404, "not found: /etc/passwd\n"));
        let reply = route(&args, "/data.json?file=3");
        assert_eq!((reply.status, reply.body.as_str()), (404, "no such file: use file=0 to file=0\n"));
    }
}
