//! An instance's side of the wire: requests through its driver to frames on its connection,
//! each frame of the traced instance to frames.log with its UserSig redacted.

use tokio_tungstenite::tungstenite::Message;

use super::Instance;
use crate::protocol::Request;

impl Instance {
    /// An instance's own values for the protocol's templates (its userID and instance id):
    /// a function of the two fields, so the driver can be borrowed beside them.
    pub(super) fn who<'a>(
        user: &'a str,
        instance: &'a str,
    ) -> crate::profile::template::Values<'a> {
        crate::profile::template::Values {
            user_id: user,
            instance,
            ..Default::default()
        }
    }

    pub(super) fn send(&mut self, req: &Request) -> bool {
        let who = Self::who(&self.user, &self.instance_id);
        let frame = self.driver.request(&self.plan.wire, req, &who);
        if self.traced {
            // frames.log is an artifact: the sig in a login is a credential, so it is written
            // as its hash (usersig::redact) — and so is any frame that echoes it back.
            if let Request::Login { user_sig, .. } = req {
                self.traced_sig = Some(user_sig.clone());
            }
        }
        self.send_frame(frame)
    }

    /// Write a frame of the traced instance to frames.log, its last sig redacted.
    pub(super) fn trace(&self, sent: bool, text: &str) {
        match self.traced_sig.as_deref() {
            Some(sig) if !sig.is_empty() && text.contains(sig) => self
                .plan
                .trace_frame(sent, &text.replace(sig, &crate::usersig::redact(sig))),
            _ => self.plan.trace_frame(sent, text),
        }
    }

    /// Put a frame the driver made on the wire; false when the connection is gone.
    pub(super) fn send_frame(&mut self, frame: crate::driver::Outgoing) -> bool {
        if self.traced {
            self.trace(true, &frame.shown());
        }
        let message = match frame {
            crate::driver::Outgoing::Text(t) => Message::text(t),
            crate::driver::Outgoing::Binary(b) => Message::binary(b),
        };
        self.link.as_ref().is_some_and(|l| l.send(message))
    }
}
