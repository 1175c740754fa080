//! `target.protocol = "xmpp"`: the `[xmpp]` table read into the run's XMPP wire.

use std::sync::Arc;

use super::{Scenario, ScenarioError};
use crate::profile::template::{Escape, Template};

/// The protocol name that selects XMPP.
pub const XMPP: &str = "xmpp";

/// The `[xmpp]` table, checked.
pub fn wire(s: &Scenario) -> Result<Arc<crate::driver::xmpp::XmppWire>, ScenarioError> {
    let x = &s.xmpp;
    if x.domain.is_empty() || x.domain.contains(['/', '@', '<', '>', '"', '\'', '&', ' ']) {
        return Err(ScenarioError::invalid(
            "xmpp.domain",
            format!("{:?} is not a domain (the server's virtual host)", x.domain),
        ));
    }
    let resource = Template::compile(
        &x.resource,
        Escape::Header,
        &["platform", "instance", "userID"],
    )
    .map_err(|e| ScenarioError::invalid("xmpp.resource", e.to_string()))?;
    if s.target.url.is_empty() {
        return Err(ScenarioError::invalid(
            "target.url",
            "target.protocol = \"xmpp\" needs a server's WebSocket URL (--target ws://HOST:PORT/xmpp-websocket): the embedded server speaks the reference protocol only",
        ));
    }
    let mechanism = match x.mechanism.as_str() {
        "PLAIN" => crate::driver::xmpp::Mechanism::Plain,
        "SCRAM-SHA-1" => crate::driver::xmpp::Mechanism::ScramSha1,
        other => {
            return Err(ScenarioError::invalid(
                "xmpp.mechanism",
                format!("{other:?}: \"PLAIN\" or \"SCRAM-SHA-1\""),
            ))
        }
    };
    Ok(crate::driver::xmpp::wire(
        x.domain.clone(),
        resource,
        mechanism,
    ))
}
