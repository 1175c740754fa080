//! The documentation, built into the binary: `loginstorm docs` lists the topics, `loginstorm
//! docs TOPIC` prints one (the same Markdown as `docs/TOPIC.md` in the repository), so the
//! pages `--help` points at are there wherever the binary is installed.

/// Every topic: its name (the file's stem), a line saying what it holds, and its text.
pub const TOPICS: [(&str, &str, &str); 13] = [
    (
        "readme",
        "what loginstorm is, the first commands, every subcommand in brief",
        include_str!("../README.md"),
    ),
    (
        "scenarios",
        "every scenario key, its default and meaning",
        include_str!("../docs/scenarios.md"),
    ),
    (
        "traces",
        "replayed traces: the CSV, how it is replayed, the generator's shapes",
        include_str!("../docs/traces.md"),
    ),
    (
        "checks",
        "the promises the checks hold a backend to, and how each is judged",
        include_str!("../docs/checks.md"),
    ),
    (
        "reports",
        "every report file and column, live metrics, the exit codes",
        include_str!("../docs/reports.md"),
    ),
    (
        "ci",
        "thresholds, baselines and compare, a complete CI job",
        include_str!("../docs/ci.md"),
    ),
    (
        "backends",
        "pointing loginstorm at your own backend: protocol profiles, TLS, admin API",
        include_str!("../docs/backends.md"),
    ),
    (
        "protocol",
        "protocol v1 as the reference server speaks it, and its budgets",
        include_str!("../docs/protocol.md"),
    ),
    (
        "real-servers",
        "Mosquitto (MQTT), Prosody and ejabberd (XMPP) as loginstorm judges them, and what it found",
        include_str!("../docs/real-servers.md"),
    ),
    (
        "distributed",
        "shards, merge, --processes and Kubernetes",
        include_str!("../docs/distributed.md"),
    ),
    (
        "reliability",
        "every bound the server and the generator keep, fuzzing, soak",
        include_str!("../docs/reliability.md"),
    ),
    (
        "performance",
        "what the generator costs against a bare client, measured",
        include_str!("../docs/performance.md"),
    ),
    (
        "architecture",
        "how the code is laid out, and why",
        include_str!("../docs/architecture.md"),
    ),
];

/// A topic's text, or why there is none (with the topics' names).
pub fn topic(name: &str) -> Result<&'static str, UnknownTopic> {
    let name = name.trim_end_matches(".md").trim_start_matches("docs/");
    TOPICS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, text)| *text)
        .ok_or_else(|| UnknownTopic {
            name: name.to_string(),
            closest: crate::model::closest(name, TOPICS.iter().map(|(n, _, _)| *n))
                .map(str::to_string),
        })
}

/// The list `loginstorm docs` prints.
pub fn index() -> String {
    let mut s = String::from("Topics (loginstorm docs TOPIC prints one; the same pages are docs/TOPIC.md in the repository):\n");
    for (name, what, _) in TOPICS {
        s += &format!("  {name:<13} {what}\n");
    }
    s
}

#[derive(Debug, thiserror::Error)]
#[error("no documentation topic {name:?}{}; `loginstorm docs` lists them", closest.as_ref().map(|c| format!(" (did you mean {c:?}?)")).unwrap_or_default())]
pub struct UnknownTopic {
    pub name: String,
    pub closest: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_docs_page_is_a_topic_and_topics_resolve() {
        // Every page in docs/ is built in (a new page must be added to TOPICS).
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs");
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "md") {
                let stem = p.file_stem().unwrap().to_str().unwrap().to_string();
                assert!(topic(&stem).is_ok(), "docs/{stem}.md is not a topic");
            }
        }
        assert!(topic("docs/checks.md").unwrap().contains("capacity"));
        let e = topic("scenarois").unwrap_err().to_string();
        assert!(e.contains("did you mean \"scenarios\""), "{e}");
    }
}
