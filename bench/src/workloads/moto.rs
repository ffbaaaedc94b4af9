//! moto's server (`moto_server`, the pip package `moto[server]`) on 127.0.0.1,
//! for `--compare-moto`: the SQS workloads run against it in the same run. Found
//! through $SHARDLOG_MOTO_SERVER, `.venv-clients/bin/moto_server` (the venv
//! scripts/client-tests.sh makes) or PATH; otherwise that venv is made here the
//! same way, with the same pinned version.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The version scripts/client-tests.sh pins.
const MOTO_VERSION: &str = "5.2.5";
/// The venv scripts/client-tests.sh makes, relative to the working directory.
const VENV: &str = ".venv-clients";
/// Longest wait for moto to accept connections.
const START_WAIT: Duration = Duration::from_secs(60);

/// A running moto server; stopped when dropped.
pub struct Moto {
    child: Child,
    /// Its endpoint, http://127.0.0.1:<port>.
    pub url: String,
}

impl Moto {
    /// Finds (or installs) moto_server and starts it on a free port of 127.0.0.1.
    pub fn start() -> Result<Moto, String> {
        let program = find_or_install()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| format!("finding a free port for moto: {e}"))?
            .port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", program.display()))?;
        let mut moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("{} exited at start: {status}", program.display()));
            }
            if started.elapsed() > START_WAIT {
                return Err(format!(
                    "moto did not listen on {address} within {START_WAIT:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_or_install() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("SHARDLOG_MOTO_SERVER") {
        return Ok(PathBuf::from(path));
    }
    let in_venv = Path::new(VENV).join("bin").join("moto_server");
    if in_venv.exists() {
        return Ok(in_venv);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|candidate| candidate.exists())
    });
    if let Some(found) = on_path {
        return Ok(found);
    }
    install()?;
    Ok(in_venv)
}

/// Makes `.venv-clients` (if missing) and installs moto's server into it.
fn install() -> Result<(), String> {
    let run = |program: &Path, args: &[&str]| -> Result<(), String> {
        let status = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("running {}: {e}", program.display()))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} {} failed: {status}",
                program.display(),
                args.join(" ")
            ))
        }
    };
    eprintln!("--compare-moto: installing moto[server]=={MOTO_VERSION} into {VENV}");
    if !Path::new(VENV).join("bin").join("python").exists() {
        run(Path::new("python3"), &["-m", "venv", VENV])?;
        // Keeps git from seeing the venv, as scripts/client-tests.sh does.
        std::fs::write(Path::new(VENV).join(".gitignore"), "*\n")
            .map_err(|e| format!("writing {VENV}/.gitignore: {e}"))?;
    }
    let python = Path::new(VENV).join("bin").join("python");
    let package = format!("moto[server]=={MOTO_VERSION}");
    run(
        &python,
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &package,
        ],
    )
}
