//! One simulator per measurement, hosted in this process: a fresh device behind the
//! yubihsm-connector HTTP server on a free loopback port, a client run as a subprocess
//! against it, and the device's own count of the exchanges it handled (the fairest round
//! trip count: every client is counted by the same code, whatever its library does).

use std::process::Command;
use std::time::{Duration, Instant};

use yhsm_sim::http::{Server, ServerHandle};
use yhsm_sim::{Config, Device, SharedDevice};

/// A running simulator.
#[derive(Debug)]
pub struct Hosted {
    server: Option<ServerHandle>,
    device: SharedDevice,
}

impl Hosted {
    /// A factory-fresh device (authentication key 1, password `password`) on a free port.
    pub fn start() -> Result<Self, String> {
        let device = Device::new(Config::default())
            .map_err(|e| format!("cannot seed the simulator from the OS: {e}"))?;
        let device = SharedDevice::new(device);
        let server = Server::bind("127.0.0.1:0", device.clone())
            .and_then(Server::spawn)
            .map_err(|e| format!("cannot start the simulator's HTTP server: {e}"))?;
        Ok(Self { server: Some(server), device })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.as_ref().map_or_else(String::new, |s| format!("http://{}", s.addr()))
    }

    fn port(&self) -> u16 {
        self.server.as_ref().map_or(0, |s| s.addr().port())
    }

    /// Requests the device has answered so far.
    pub fn exchanges(&self) -> u64 {
        self.device.lock().exchanges()
    }

    /// How many objects the device holds.
    pub fn objects(&self) -> usize {
        self.device.lock().store().len()
    }

    /// Runs `argv` with `{url}`, `{host}` and `{port}` replaced, and returns its standard
    /// output, wall time and the exchanges it caused. A failing command is an error that
    /// carries its standard error.
    pub fn run(&self, argv: &[String]) -> Result<Run, String> {
        let url = self.url();
        let port = self.port().to_string();
        let args: Vec<String> = argv
            .iter()
            .map(|a| {
                a.replace("{url}", &url).replace("{host}", "127.0.0.1").replace("{port}", &port)
            })
            .collect();
        let Some((program, rest)) = args.split_first() else {
            return Err("empty command".to_owned());
        };
        let before = self.exchanges();
        let start = Instant::now();
        let output = Command::new(program)
            .args(rest)
            .output()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        let wall = start.elapsed();
        let exchanges = self.exchanges() - before;
        if !output.status.success() {
            return Err(format!(
                "`{}` failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Run { stdout: String::from_utf8_lossy(&output.stdout).into_owned(), wall, exchanges })
    }
}

impl Drop for Hosted {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

/// What one client run left behind.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub wall: Duration,
    pub exchanges: u64,
}

impl Run {
    /// The value of `key=` in the output (`echo_ns=123`), as a number.
    pub fn field(&self, key: &str) -> Option<f64> {
        self.stdout
            .split_whitespace()
            .find_map(|word| word.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
    }
}
