//! Who the accounts are: a credentials file (`target.credentials`) read and checked line by
//! line, or the userIDs `accounts.id_pattern` makes.

use std::path::Path;

use super::ScenarioError;

/// The header a credentials file may start with (case-insensitive): `userID,userSig`, or
/// `userID,password` (an MQTT broker's accounts).
fn is_credentials_header(user: &str, sig: &str) -> bool {
    let u = user.trim().to_ascii_lowercase();
    let s = sig.trim().to_ascii_lowercase();
    matches!(u.as_str(), "userid" | "user_id" | "identifier")
        && matches!(s.as_str(), "usersig" | "user_sig" | "sig" | "password")
}

/// Read `userID,userSig` records. Errors name the file's own line numbers (comments and blank
/// lines count); a first line `userID,userSig` is a header and skipped; every userID obeys the
/// protocol's rules and appears once (two accounts with one userID would be one account to the
/// backend, and every kick the checks predict for them would be wrong).
pub(super) fn read_credentials(p: &Path) -> Result<Vec<(String, String)>, ScenarioError> {
    let key = || format!("target.credentials {}", p.display());
    let text = crate::input::read(p, crate::input::Links::Follow, crate::input::MAX_CONFIG)
        .map_err(|e| ScenarioError::invalid(key(), crate::error_message(&e)))?;
    // The csv reader's own line numbers skip comments and blank lines, and a record's byte
    // position is where the previous one ended (before any comment or blank lines between):
    // step over those, then count the file's own lines. Positions only grow, so the count
    // goes on from where the previous record's left off (counting from the start each time
    // made a 40,000-line file take a minute).
    let mut counted = (0usize, 1usize); // (byte, line number at that byte)
    let mut line_at = |byte: u64| {
        let mut at = (byte as usize).min(text.len());
        loop {
            let rest = &text[at..];
            let end = rest.iter().position(|&b| b == b'\n');
            let line = &rest[..end.unwrap_or(rest.len())];
            let skipped = line.trim_ascii().is_empty() || line.first() == Some(&b'#');
            match end {
                Some(e) if skipped => at += e + 1,
                _ => break,
            }
        }
        let (from, line) = if counted.0 <= at { counted } else { (0, 1) };
        counted = (
            at,
            line + text[from..at].iter().filter(|&&b| b == b'\n').count(),
        );
        counted.1
    };
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_slice());
    let mut out = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| ScenarioError::parse(key(), e))?;
        let line = rec.position().map_or(0, |p| line_at(p.byte()));
        let at = || format!("{} line {line}:", key());
        if rec.len() != 2 {
            return Err(ScenarioError::invalid(
                at(),
                format!("expected userID,userSig, found {} fields", rec.len()),
            ));
        }
        if out.is_empty() && seen.is_empty() && is_credentials_header(&rec[0], &rec[1]) {
            seen.insert(String::new(), line);
            continue;
        }
        // A userID is taken exactly as written: spaces around it would be part of it to the
        // backend, so they are refused rather than silently trimmed (the sig is trimmed: a sig
        // never holds a space).
        let (user, sig) = (&rec[0], rec[1].trim());
        if user.trim() != user {
            return Err(ScenarioError::invalid(
                at(),
                format!("userID {user:?} has spaces around it; a userID is used exactly as written, so remove them"),
            ));
        }
        crate::protocol::check_user_id(user)
            .map_err(|e| ScenarioError::invalid(at(), e.to_string()))?;
        if sig.is_empty() {
            return Err(ScenarioError::invalid(at(), "userSig is empty"));
        }
        if let Some(first) = seen.insert(user.to_string(), line) {
            return Err(ScenarioError::invalid(
                at(),
                format!("userID {user:?} is also on line {first}; each account needs its own"),
            ));
        }
        out.push((user.to_string(), sig.to_string()));
    }
    Ok(out)
}

/// The pattern's userIDs obey the protocol's rules: the shortest and the longest it makes are
/// checked (characters come from the pattern itself, lengths grow with `n`).
pub(super) fn check_id_pattern(pattern: &str, count: u32) -> Result<(), ScenarioError> {
    for n in [0, count.saturating_sub(1)] {
        let id = pattern.replace("{n}", &n.to_string());
        crate::protocol::check_user_id(&id).map_err(|e| {
            ScenarioError::invalid(
                "accounts.id_pattern",
                format!(
                    "makes {:?} for account {n}: {e}",
                    crate::protocol::truncate(&id, 40)
                ),
            )
        })?;
    }
    Ok(())
}
