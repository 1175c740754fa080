//! What a connection does for its session: the commands it carries out (ask the ledger, arm a
//! timer), the pushes it takes (kicks, messages), and its leaving.

use super::*;

impl Conn {
    /// Carry out what the session asked for (a logout's answer may ask for more).
    pub(super) async fn carry_out(&mut self) {
        while !self.session.commands.is_empty() {
            for cmd in std::mem::take(&mut self.session.commands) {
                self.command(cmd).await;
            }
        }
    }

    async fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Login {
                seq,
                user,
                platform,
                sig_time,
                sig_hash,
            } => {
                let msg = shard::Login {
                    user: user.clone(),
                    platform,
                    sig_time,
                    sig_hash,
                    now_unix: now_unix(),
                    link: ConnLink {
                        conn: self.conn_id,
                        push: self.push_tx.clone(),
                        queued: self.queued.clone(),
                        ghost: self.ghost.clone(),
                    },
                };
                let fut = self.shared.shard_for(&user).send(msg);
                self.login_received = Some(self.received);
                self.pending = Some(Box::pin(async move {
                    (seq, fut.await.unwrap_or(Err(code::INVALID_PARAMS)))
                }));
            }
            Command::Logout { seq, user } => {
                let leave = shard::Leave {
                    user: user.clone(),
                    conn: self.conn_id,
                };
                let was_live = self
                    .shared
                    .shard_for(&user)
                    .send(leave)
                    .await
                    .unwrap_or(false);
                self.session.logout_answered(seq, was_live);
            }
            Command::Deliver {
                to,
                from,
                text,
                message_id,
            } => {
                let delivery = Arc::new(shard::Delivery {
                    from,
                    text,
                    message_id,
                });
                self.shared
                    .shard_for(&to)
                    .do_send(shard::Deliver { to, delivery });
            }
            Command::Expire { user, instance } => {
                self.shared
                    .shard_for(&user)
                    .do_send(shard::Expire { user, instance });
            }
            Command::ReadyIn(d) => self.ready_at = d.map(|d| Instant::now() + d),
            Command::ExpireAfter(unix) => self.expire_at = unix.and_then(expiry_instant),
        }
    }

    pub(super) fn on_push(&mut self, push: Push) {
        match push {
            Push::Message(d) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                self.session.message(Delivered {
                    from: d.from.clone(),
                    text: d.text.clone(),
                    message_id: d.message_id.clone(),
                });
            }
            Push::Kicked {
                instance,
                kick,
                silent,
                zombie,
            } => {
                self.shared.stats.kicks[kick.index()].fetch_add(1, Ordering::Relaxed);
                self.session.kicked(KickPush {
                    instance,
                    kick,
                    silent,
                    zombie,
                })
            }
            Push::Shed | Push::Crash => {} // the connection loop ends the connection
        }
    }

    /// The connection is gone: forget its instance (a pending login is forgotten once decided,
    /// since the shard handles this connection's messages in order).
    pub(super) fn leave(&mut self) {
        if let Some(user) = self.session.user_to_forget() {
            self.shared.shard_for(user).do_send(shard::Leave {
                user: user.to_string(),
                conn: self.conn_id,
            });
        }
    }
}

impl Conn {
    /// A gateway restart took the connection and kept its session: the session stays in the
    /// ledger as a ghost until the idle timeout after the last frame received — as if the
    /// client had gone silent — and then leaves. A kick meanwhile (the ledger dropped it) ends
    /// it sooner; with no idle timeout (0), only a kick (or the server's stop) ends it.
    pub(super) async fn linger(
        &mut self,
        last_frame: Instant,
        idle: Duration,
        mut push_rx: mpsc::UnboundedReceiver<Push>,
    ) {
        self.ghost.store(true, Ordering::Relaxed);
        self.pending = None;
        let until =
            tokio::time::sleep_until(last_frame + if idle.is_zero() { MAX_TIMER } else { idle });
        tokio::pin!(until);
        loop {
            tokio::select! {
                () = &mut until => return,
                push = push_rx.recv() => match push {
                    // A kick the server made, to a client no longer there.
                    Some(Push::Kicked { kick, .. }) => {
                        self.shared.stats.kicks[kick.index()].fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    None => return,
                    Some(_) => {}
                },
            }
        }
    }
}
