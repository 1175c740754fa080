//! A session's traffic once logged in: messages it sends and receives, and the kicks pushed
//! to it.

use super::*;

impl Session {
    pub(super) fn send_message(&mut self, seq: u64, to: String, text: String) {
        let from = match &self.state {
            State::Idle { reason } => {
                let r = *reason;
                return self.error(seq, r, not_ready_text(r));
            }
            State::LoggedIn {
                user, ready: true, ..
            } => user.clone(),
            _ => {
                let r = code::NOT_READY_LOGGING_IN;
                return self.error(seq, r, not_ready_text(r));
            }
        };
        self.next_message += 1;
        let message_id = format!("{:x}-{}", self.conn_id, self.next_message);
        let data = ReplyData {
            message_id: Some(message_id.clone()),
            ..ReplyData::default()
        };
        self.out.push(ServerFrame::ok(seq, data));
        self.commands.push(Command::Deliver {
            to,
            from,
            text,
            message_id,
        });
    }

    /// A message for this account arrived: shown only to a ready session.
    pub fn message(&mut self, d: Delivered) {
        if let State::LoggedIn { ready: true, .. } = self.state {
            self.out.push(ServerFrame::event(Event::MessageReceived(d)));
        }
    }

    /// The shard kicked an instance on this connection.
    pub fn kicked(&mut self, push: KickPush) {
        if let State::Pending { .. } = self.state {
            // The shard decided this login and then kicked it before its answer reached us:
            // keep the kick for when the answer arrives.
            return self.deferred.push(push);
        }
        let State::LoggedIn {
            instance, zombie, ..
        } = &mut self.state
        else {
            return;
        };
        if *instance != push.instance || *zombie {
            return;
        }
        self.commands.push(Command::ExpireAfter(None));
        if push.zombie {
            *zombie = true;
        } else {
            self.commands.push(Command::ReadyIn(None));
            self.state = State::Idle {
                reason: not_ready_code(push.kick),
            };
        }
        if !push.silent {
            let k = Kicked { kind: push.kick };
            self.out.push(ServerFrame::event(Event::KickedOut(k)));
            self.out.push(ServerFrame::event(Event::NotReady));
        }
    }
}
