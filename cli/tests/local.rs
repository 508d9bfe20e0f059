//! The commands on an emulator inside the command (`--emulator=DIR`): tables made with the
//! admin subcommands, blobs uploaded and downloaded, a query result read by row range,
//! `--json` outcomes; and `maxstorage emulator` serving its default data directory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `maxstorage` with no service configured (HOME in `home`, no MAXSTORAGE_* variable).
fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_maxstorage"))
        .args(args)
        .current_dir(home)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "maxstorage failed: {stderr}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(ok(out).trim()).unwrap()
}

#[test]
fn blobs_and_instances_on_an_embedded_emulator_that_keeps_its_directory() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let data = "--emulator=data";
    ok(&run(
        home,
        &[
            "emulator",
            "create-table",
            "assets",
            "--column",
            "id:bigint",
            "--column",
            "name:string",
            "--column",
            "content:blob",
            data,
        ],
    ));
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(home.join("big.bin"), &big).unwrap();
    std::fs::write(home.join("small.txt"), b"hello").unwrap();
    std::fs::write(home.join("empty"), b"").unwrap();

    let put = json(&run(
        home,
        &[
            "blob",
            "put",
            "assets",
            "big.bin",
            "small.txt",
            "empty",
            "--name-column",
            "name",
            "--json",
            data,
        ],
    ));
    let blobs = put["blobs"].as_array().unwrap();
    assert_eq!(blobs.len(), 3, "{put}");
    assert_eq!(blobs[1]["file"], "small.txt");

    // Every blob comes back under its name, byte for byte (a later command, same DIR).
    let got = json(&run(
        home,
        &[
            "blob",
            "get",
            "assets",
            "-o",
            "out",
            "--name-column",
            "name",
            "--json",
            data,
        ],
    ));
    assert_eq!(got["blobs"], 3, "{got}");
    assert_eq!(got["bytes"], (big.len() + 5) as u64, "{got}");
    assert_eq!(std::fs::read(home.join("out/big.bin")).unwrap(), big);
    assert_eq!(std::fs::read(home.join("out/small.txt")).unwrap(), b"hello");
    assert_eq!(std::fs::read(home.join("out/empty")).unwrap(), b"");

    // One reference, to standard output.
    let reference = blobs[1]["reference"].as_str().unwrap();
    let out = run(
        home,
        &[
            "blob",
            "get",
            "assets",
            "--reference",
            reference,
            "-o",
            "-",
            data,
        ],
    );
    assert_eq!(ok(&out).as_bytes(), b"hello");

    // The rows hold the names; `read --json` reports them.
    let read = json(&run(
        home,
        &[
            "read",
            "assets",
            "--columns",
            "name",
            "-o",
            "names.csv",
            "--json",
            data,
        ],
    ));
    assert_eq!(read["rows"], 3, "{read}");
    let names = std::fs::read_to_string(home.join("names.csv")).unwrap();
    let mut names: Vec<&str> = names.lines().skip(1).collect();
    names.sort();
    assert_eq!(names, ["big.bin", "empty", "small.txt"]);

    // A query result over the table, read whole and by row range.
    let id = ok(&run(
        home,
        &[
            "emulator",
            "create-instance",
            "assets",
            "--columns",
            "name",
            data,
        ],
    ));
    let id = id.trim();
    assert!(!id.is_empty());
    let all = json(&run(
        home,
        &["instance", "read", id, "-o", "all.csv", "--json", data],
    ));
    assert_eq!(all["rows"], 3, "{all}");
    let range = json(&run(
        home,
        &[
            "instance",
            "read",
            id,
            "--offset",
            "1",
            "--count",
            "5",
            "-o",
            "range.jsonl",
            "--json",
            data,
        ],
    ));
    assert_eq!(range["rows"], 2, "{range}");
    assert_eq!(
        std::fs::read_to_string(home.join("range.jsonl"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn with_nothing_configured_the_message_names_the_ways_and_the_emulator() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["read", "t", "-o", "t.csv"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for way in [
        "--endpoint",
        "MAXSTORAGE_ENDPOINT",
        "--config",
        "--emulator",
    ] {
        assert!(stderr.contains(way), "{way} not in {stderr}");
    }
    // A temporary embedded emulator has no tables: a clear failure, not a panic.
    let out = run(home.path(), &["schema", "missing", "--emulator"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("maxstorage: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // --json and data on standard output exclude each other.
    let out = run(
        home.path(),
        &["read", "t", "-o", "-", "--json", "--emulator"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--json"));
}

#[test]
fn the_emulator_serves_its_default_directory_with_the_environments_key() {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_maxstorage"))
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("HOME", home.path())
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "shell-id")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "shell-key")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoint = format!("http://{}", line.trim());
    let admin = |key: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_maxstorage"))
            .args(["emulator"])
            .args(args)
            .args(["--endpoint", &endpoint, "--project", "p"])
            .env_clear()
            .env("HOME", home.path())
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "shell-id")
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", key)
            .output()
            .unwrap()
    };
    let created = admin("shell-key", &["create-table", "t", "--column", "id:bigint"]);
    let wrong = admin("other-key", &["create-table", "u", "--column", "id:bigint"]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        !wrong.status.success(),
        "an unsigned or wrongly signed admin call is refused"
    );
    let dir = home.path().join(".local/share/maxstorage/emulator");
    assert!(dir.join("tables").is_dir(), "data in {}", dir.display());
}

#[test]
fn sql_inserts_queries_and_writes_a_file_on_an_embedded_emulator() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let data = "--emulator=data";
    ok(&run(
        home,
        &[
            "emulator",
            "create-table",
            "people",
            "--column",
            "id:bigint",
            "--column",
            "name:string",
            data,
        ],
    ));
    let inserted = json(&run(
        home,
        &[
            "sql",
            "INSERT INTO people VALUES (1, 'ann'), (2, 'bob'), (3, 'cy')",
            "--json",
            data,
        ],
    ));
    assert_eq!(inserted["rows"], 1, "{inserted}");

    // A later command on the same DIR sees the committed rows; the table is printed.
    let printed = ok(&run(
        home,
        &[
            "sql",
            "SELECT name, id * 10 AS tens FROM people WHERE id >= 2 ORDER BY id",
            data,
        ],
    ));
    assert!(printed.contains("| bob  | 20   |"), "{printed}");
    assert!(printed.contains("| cy   | 30   |"), "{printed}");
    assert!(!printed.contains("ann"), "{printed}");

    // Long results print the first rows and count the rest; -o writes them all.
    let printed = ok(&run(
        home,
        &["sql", "SELECT * FROM people", "--max-rows", "1", data],
    ));
    assert!(printed.contains("(1 of 3 rows shown"), "{printed}");
    let written = json(&run(
        home,
        &[
            "sql",
            "SELECT id FROM people ORDER BY id",
            "-o",
            "ids.csv",
            "--json",
            data,
        ],
    ));
    assert_eq!(written["rows"], 3, "{written}");
    assert_eq!(
        std::fs::read_to_string(home.join("ids.csv")).unwrap(),
        "id\n1\n2\n3\n"
    );

    // A query the engine rejects fails with its message.
    let out = run(home, &["sql", "SELECT nope FROM people", data]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}
