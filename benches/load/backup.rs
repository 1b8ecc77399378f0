//! `backup-worker`: a volume of mixed files (`--mib=N`, 1024 by default: a quarter in 16 KiB
//! files, the rest in three large ones, random content) on the node of a real worker process
//! enrolled over gRPC on loopback (its engine is this machine's), backed up and restored
//! through the worker `--rounds` times. Prints throughput (MiB/s of tar read from the volume,
//! median) and the RSS growth of the master and the worker during each run (peak VmRSS sampled
//! every 50 ms minus VmRSS before), against a baseline in the same run: `docker run … tar c` of
//! the same volume piped to /dev/null.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::{Master, Options, median};

const IMAGE: &str = "contextbay-test/busybox:latest";
const MIB: f64 = 1024.0 * 1024.0;

fn docker(args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("docker").args(args).output()?;
    if !out.status.success() {
        bail!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The busybox image the tests use, built locally (never pulled) when missing.
fn ensure_image() -> anyhow::Result<()> {
    if docker(&["image", "inspect", IMAGE]).is_ok() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .context("busybox-static is not installed")?;
    std::fs::copy(busybox, dir.path().join("busybox"))?;
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nLABEL contextbay.test=1\nCMD [\"/bin/sh\"]\n",
    )?;
    docker(&["build", "-q", "-t", IMAGE, &dir.path().to_string_lossy()])?;
    Ok(())
}

fn vm_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Volumes this scenario created, removed when it ends.
struct Volumes(Vec<String>);

impl Drop for Volumes {
    fn drop(&mut self) {
        for v in &self.0 {
            let _ = docker(&["volume", "rm", "-f", v]);
        }
    }
}

struct Sample {
    seconds: f64,
    mib_s: f64,
    master_growth_mib: f64,
    worker_growth_mib: f64,
}

/// A fresh connection per request, each with a deadline: the blocking `docker` calls between
/// requests give the master time to close an idle kept-alive connection under the client.
fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// Starts `path` (202 with an operation) and waits for it, sampling both processes' RSS.
async fn timed(
    http: &reqwest::Client,
    master: &Master,
    token: &str,
    path: &str,
    body: Value,
    worker_pid: u32,
) -> anyhow::Result<(Value, Sample)> {
    let master_pid = master.pid()?;
    let (m0, w0) = (vm_rss_kib(master_pid), vm_rss_kib(worker_pid));
    let (mut m_peak, mut w_peak) = (m0, w0);
    let started = Instant::now();
    let resp = http
        .post(master.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = resp.status();
    let accepted: Value = resp.json().await?;
    if status.as_u16() != 202 {
        bail!("POST {path} answered {status}: {accepted}");
    }
    let id = accepted["operation"]["id"]
        .as_str()
        .context("no operation id")?
        .to_owned();
    let mut next_poll = Instant::now();
    let op = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        m_peak = m_peak.max(vm_rss_kib(master_pid));
        w_peak = w_peak.max(vm_rss_kib(worker_pid));
        if Instant::now() < next_poll {
            continue;
        }
        next_poll = Instant::now() + Duration::from_millis(200);
        let op: Value = http
            .get(master.url(&format!("/api/operations/{id}")))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        match op["state"].as_str() {
            Some("succeeded") => break op,
            Some("failed" | "cancelled" | "interrupted") => bail!("{path}: {op}"),
            _ => {}
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    Ok((
        op,
        Sample {
            seconds,
            mib_s: 0.0,
            master_growth_mib: m_peak.saturating_sub(m0) as f64 / 1024.0,
            worker_growth_mib: w_peak.saturating_sub(w0) as f64 / 1024.0,
        },
    ))
}

pub async fn backup_worker(opts: &Options) -> anyhow::Result<()> {
    ensure_image()?;
    let mib = opts.mib.max(16);
    let master = Master::start_with_env(&[("CB_DOCKER__LOCAL_ENDPOINT", "false")]).await?;
    let token = master.setup().await?;
    let http = client()?;
    let auth = |r: reqwest::RequestBuilder| r.bearer_auth(&token);
    let put = auth(http.put(master.url("/api/config/backups")))
        .json(&json!({"enabled": true}))
        .send()
        .await?;
    if !put.status().is_success() {
        bail!("enabling backups: {}", put.text().await?);
    }
    let host: Value = auth(http.post(master.url("/api/hosts")))
        .json(&json!({"name": "bench-node"}))
        .send()
        .await?
        .json()
        .await?;
    let node = host["id"].as_str().context("no host id")?.to_owned();
    let secret = std::fs::read_to_string(master.dir.path().join("data").join("enroll_secret"))?;
    let worker_dir = master.dir.path().join("worker");
    std::fs::create_dir_all(&worker_dir)?;
    let log = std::fs::File::create(master.dir.path().join("worker.log"))?;
    let mut worker = tokio::process::Command::new(Master::binary())
        .arg("worker")
        .arg("--master-url")
        .arg(&master.base)
        .arg("--grpc-url")
        .arg(format!("http://{}", master.grpc_addr))
        .arg("--enroll-token")
        .arg(host["enroll_token"].as_str().context("no enroll token")?)
        .arg("--shared-secret")
        .arg(secret.trim())
        .arg("--data-dir")
        .arg(&worker_dir)
        .arg("--heartbeat-interval")
        .arg("1")
        .current_dir(master.dir.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?;
    let worker_pid = worker.id().context("the worker exited")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h: Value = auth(http.get(master.url(&format!("/api/hosts/{node}"))))
            .send()
            .await?
            .json()
            .await?;
        if h["fuse"]["fused"] == true {
            break;
        }
        if Instant::now() > deadline {
            bail!("the worker's host did not fuse within 60 s: {h}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let volume = format!("cbbench-{tag}");
    let mut volumes = Volumes(vec![volume.clone()]);
    docker(&["volume", "create", "--label", "contextbay.test=1", &volume])?;
    let small = mib / 4;
    let large = (mib - small) / 3;
    let count = small * 64;
    let fill = format!(
        "mkdir -p /v/small && cd /v/small && i=0; while [ $i -lt {count} ]; do \
         dd if=/dev/urandom of=f$i bs=16384 count=1 2>/dev/null; i=$((i+1)); done && \
         for i in 1 2 3; do head -c {large}m /dev/urandom > /v/large$i.bin; done"
    );
    let filled = Instant::now();
    docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--label",
        "contextbay.test=1",
        "-v",
        &format!("{volume}:/v"),
        IMAGE,
        "sh",
        "-c",
        &fill,
    ])?;
    let files = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--label",
        "contextbay.test=1",
        "-v",
        &format!("{volume}:/v:ro"),
        IMAGE,
        "sh",
        "-c",
        "find /v -type f | wc -l",
    ])?;
    println!(
        "volume: {mib} MiB ({small} MiB in 16 KiB files, 3 × {large} MiB), {files} files, filled in {:.0} s",
        filled.elapsed().as_secs_f64()
    );

    let mut baseline = Vec::new();
    for _ in 0..opts.rounds {
        let started = Instant::now();
        let status = std::process::Command::new("docker")
            .args([
                "run",
                "--rm",
                "--network",
                "none",
                "--label",
                "contextbay.test=1",
                "-v",
                &format!("{volume}:/v:ro"),
                IMAGE,
                "tar",
                "c",
                "-C",
                "/v",
                ".",
            ])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("the baseline tar failed");
        }
        baseline.push(mib as f64 / started.elapsed().as_secs_f64());
    }

    let created: Value = auth(http.post(master.url("/api/backup-jobs")))
        .json(&json!({
            "name": "bench",
            "source": {"kind": "volume", "endpoint": node, "volume": volume},
        }))
        .send()
        .await?
        .json()
        .await?;
    let job = created["id"]
        .as_str()
        .with_context(|| format!("creating the job: {created}"))?
        .to_owned();
    let mut backups = Vec::new();
    let mut restores = Vec::new();
    for round in 0..opts.rounds {
        let (op, mut s) = timed(
            &http,
            &master,
            &token,
            &format!("/api/backup-jobs/{job}/run"),
            json!({}),
            worker_pid,
        )
        .await?;
        let read = op["result"]["source_bytes"].as_f64().unwrap_or(0.0);
        s.mib_s = read / MIB / s.seconds;
        let rid = op["result"]["record_id"]
            .as_str()
            .context("no record")?
            .to_owned();
        backups.push(s);
        let target = format!("cbbench-{tag}-r{round}");
        volumes.0.push(target.clone());
        let (_, mut s) = timed(
            &http,
            &master,
            &token,
            &format!("/api/backup-jobs/{job}/records/{rid}/restore"),
            json!({"volume": target}),
            worker_pid,
        )
        .await?;
        s.mib_s = read / MIB / s.seconds;
        restores.push(s);
        let _ = docker(&["volume", "rm", "-f", &target]);
    }
    let med =
        |v: &[Sample], f: fn(&Sample) -> f64| median(&mut v.iter().map(f).collect::<Vec<_>>());
    let base = median(&mut baseline);
    println!(
        "\n| through the worker ({} rounds, medians) | MiB/s | vs baseline | seconds | master RSS growth (MiB) | worker RSS growth (MiB) |",
        opts.rounds
    );
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| baseline `docker run … tar c` > /dev/null | {base:.0} | 1.00 | {:.1} | – | – |",
        mib as f64 / base
    );
    for (name, v) in [
        (
            "backup (tar → worker → gRPC → master → zstd → file)",
            &backups,
        ),
        (
            "restore (file → zstd -d → master → gRPC → worker → engine)",
            &restores,
        ),
    ] {
        let rate = med(v, |s| s.mib_s);
        println!(
            "| {name} | {rate:.0} | {:.2} | {:.1} | {:.1} (max {:.1}) | {:.1} (max {:.1}) |",
            rate / base,
            med(v, |s| s.seconds),
            med(v, |s| s.master_growth_mib),
            v.iter().map(|s| s.master_growth_mib).fold(0.0, f64::max),
            med(v, |s| s.worker_growth_mib),
            v.iter().map(|s| s.worker_growth_mib).fold(0.0, f64::max),
        );
    }
    drop(volumes);
    let _ = worker.start_kill();
    let _ = worker.wait().await;
    master.stop().await?;
    Ok(())
}
