//! Compose fixtures: a two-service project on an internal network, and a guard that takes compose
//! projects down.

use super::docker::{IMAGE, docker};

/// Two services on an internal network, labelled as test objects.
pub fn compose_file() -> String {
    let service = format!(
        "    image: {IMAGE}\n    command: [\"sh\", \"-c\", \"while true; do sleep 1; done\"]\n    \
         stop_grace_period: 1s\n    labels:\n      contextbay.test: \"1\"\n    networks: [backend]\n"
    );
    format!(
        "services:\n  web:\n{service}  worker:\n{service}networks:\n  backend:\n    internal: true\n    \
         labels:\n      contextbay.test: \"1\"\n"
    )
}

/// Takes compose projects down when dropped: `docker-compose down -v`, then whatever is left
/// with the project's label (containers, networks, volumes).
pub struct Projects {
    names: Vec<String>,
    pub dir: tempfile::TempDir,
}

impl Projects {
    pub fn new() -> Self {
        Self {
            names: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn add(&mut self, name: &str) -> String {
        self.names.push(name.to_owned());
        name.to_owned()
    }

    /// The compose file written for the CLI (the adoption test starts a project with it).
    pub fn file(&self) -> std::path::PathBuf {
        let path = self.dir.path().join("docker-compose.yml");
        std::fs::write(&path, compose_file()).unwrap();
        path
    }
}

impl Drop for Projects {
    fn drop(&mut self) {
        let file = self.file();
        for p in &self.names {
            let _ = std::process::Command::new("docker-compose")
                .args(["-p", p, "-f", file.to_str().unwrap_or_default()])
                .args(["down", "-v", "--remove-orphans", "-t", "1"])
                .output();
            let label = format!("label=com.docker.compose.project={p}");
            if let Ok(ids) = docker(&["ps", "-aq", "--filter", &label]) {
                for id in ids.lines().filter(|l| !l.is_empty()) {
                    let _ = docker(&["rm", "-f", "-v", id]);
                }
            }
            for kind in ["network", "volume"] {
                if let Ok(ids) = docker(&[kind, "ls", "-q", "--filter", &label]) {
                    for id in ids.lines().filter(|l| !l.is_empty()) {
                        let _ = docker(&[kind, "rm", id]);
                    }
                }
            }
        }
    }
}
