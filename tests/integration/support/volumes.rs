//! Docker volumes' content as the backup tests compare it: a script run against a volume, and a
//! manifest of every entry (path, mode, owner, group, mtime, size, type, content digest or link
//! target).

use super::docker::{Cleanup, IMAGE, docker};

/// Runs a shell script in a throw-away busybox container with `volume` at `/v`.
pub fn in_volume(c: &Cleanup, volume: &str, script: &str) -> String {
    docker(&[
        "run",
        "--rm",
        "--network",
        &c.network,
        "--label",
        "contextbay.test=1",
        "-v",
        &format!("{volume}:/v"),
        IMAGE,
        "sh",
        "-c",
        script,
    ])
    .unwrap()
}

/// Every entry of a volume: path, mode, owner, group, mtime, size, type, and the content's MD5
/// for files or the target for symlinks; sorted.
pub fn manifest(c: &Cleanup, volume: &str) -> String {
    in_volume(
        c,
        volume,
        "cd /v && find . | sort | while read f; do \
           stat -c '%n %a %u %g %Y %s %F' \"$f\"; \
           if [ -L \"$f\" ]; then readlink \"$f\"; elif [ -f \"$f\" ]; then md5sum \"$f\"; fi; \
         done",
    )
}
