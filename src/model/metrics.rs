//! Latency metrics and event counters: the names of what a run measures.

use crate::policy::KickType;

/// Latency histograms, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// TCP connect + WebSocket upgrade.
    Connect,
    /// Login request → response, measured from the intended start (open model) or the send.
    Login,
    /// Login request → response, from the actual send (service time).
    LoginService,
    /// Login sent → `sdkStateReady`, from the intended start.
    Ready,
    /// Login sent → `sdkStateReady`, from the actual send.
    ReadyService,
    /// Logout request → response.
    Logout,
    /// The kicking login's send → the victim's `kickedOut`.
    KickPropagation,
    /// `sendMessage` request → response.
    Message,
    /// The generator's own lateness: when a cycle began − when it was due (open-model arrivals,
    /// closed-model ramp starts). Not the backend's; see docs/performance.md.
    ScheduleLag,
    /// A lost connection (noticed) → `sdkStateReady` again after a reconnect and re-login.
    Reconnect,
    /// A disruption's start → `sdkStateReady` again, for each session it took down: the
    /// recovery time's quantiles come from here and `sessions_disrupted` (docs/reports.md).
    Recovery,
}

impl Metric {
    pub const ALL: [Metric; 11] = [
        Metric::Connect,
        Metric::Login,
        Metric::LoginService,
        Metric::Ready,
        Metric::ReadyService,
        Metric::Logout,
        Metric::KickPropagation,
        Metric::Message,
        Metric::ScheduleLag,
        Metric::Reconnect,
        Metric::Recovery,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Connect => "connect",
            Metric::Login => "login",
            Metric::LoginService => "login_service",
            Metric::Ready => "ready",
            Metric::ReadyService => "ready_service",
            Metric::Logout => "logout",
            Metric::KickPropagation => "kick_propagation",
            Metric::Message => "message",
            Metric::ScheduleLag => "schedule_lag",
            Metric::Reconnect => "reconnect",
            Metric::Recovery => "recovery",
        }
    }
}

/// Event counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    ConnectionsOpened,
    ConnectionsFailed,
    ConnectionsLost,
    LoginsOk,
    LoginsFailed,
    RepeatLogins,
    Readies,
    Logouts,
    LogoutsFailed,
    KicksMultipleAccount,
    KicksMultipleDevice,
    KicksUserSigExpired,
    KicksRestApi,
    ExpectedKicks,
    ExpectedKicksMax,
    TimeoutsConnect,
    TimeoutsLogin,
    TimeoutsReady,
    TimeoutsLogout,
    MessagesSent,
    MessagesOk,
    MessagesFailed,
    MessagesRefused,
    MessagesReceived,
    ProtocolErrors,
    ProtocolErrorsUnmatched,
    AdminKicksSent,
    AdminKicksFailed,
    CyclesCompleted,
    ArrivalsDropped,
    ProbesSent,
    JudgmentWaitsExpired,
    LoginsRefusedAfterAdminKick,
    LogoutsRefusedAfterKick,
    /// MQTT sessions a broker ended right after a newer same-ClientId login (also kicks).
    TakeoversInferred,
    /// Connections lost during a `[[chaos]]` disruption (its doing, not the backend's fault).
    ConnectionsLostPlanned,
    /// Connects that failed during a disruption (nothing listened: planned).
    ConnectionsFailedPlanned,
    /// Connects an instance tried to come back after a loss (the SDK's `onConnecting`).
    ReconnectAttempts,
    /// Instances ready again after a loss.
    Reconnects,
    /// Instances that reconnected but whose re-login failed or timed out: their cycle ended.
    ReconnectsGivenUp,
    /// Instances still trying to come back when the run ended.
    ReconnectsUnfinished,
    /// Ready sessions a disruption took down (the base of the recovery time).
    SessionsDisrupted,
    /// Starts the schedule had due (more than `pacer::UNSENT_SLACK` before the load ended)
    /// that the generator never sent: it fell behind its own schedule (or stalled), so the
    /// load asked for was not offered.
    ArrivalsUnsent,
}

impl Counter {
    pub const ALL: [Counter; 43] = [
        Counter::ConnectionsOpened,
        Counter::ConnectionsFailed,
        Counter::ConnectionsLost,
        Counter::LoginsOk,
        Counter::LoginsFailed,
        Counter::RepeatLogins,
        Counter::Readies,
        Counter::Logouts,
        Counter::LogoutsFailed,
        Counter::KicksMultipleAccount,
        Counter::KicksMultipleDevice,
        Counter::KicksUserSigExpired,
        Counter::KicksRestApi,
        Counter::ExpectedKicks,
        Counter::ExpectedKicksMax,
        Counter::TimeoutsConnect,
        Counter::TimeoutsLogin,
        Counter::TimeoutsReady,
        Counter::TimeoutsLogout,
        Counter::MessagesSent,
        Counter::MessagesOk,
        Counter::MessagesFailed,
        Counter::MessagesRefused,
        Counter::MessagesReceived,
        Counter::ProtocolErrors,
        Counter::ProtocolErrorsUnmatched,
        Counter::AdminKicksSent,
        Counter::AdminKicksFailed,
        Counter::CyclesCompleted,
        Counter::ArrivalsDropped,
        Counter::ProbesSent,
        Counter::JudgmentWaitsExpired,
        Counter::LoginsRefusedAfterAdminKick,
        Counter::LogoutsRefusedAfterKick,
        Counter::TakeoversInferred,
        Counter::ConnectionsLostPlanned,
        Counter::ConnectionsFailedPlanned,
        Counter::ReconnectAttempts,
        Counter::Reconnects,
        Counter::ReconnectsGivenUp,
        Counter::ReconnectsUnfinished,
        Counter::SessionsDisrupted,
        Counter::ArrivalsUnsent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Counter::ConnectionsOpened => "connections_opened",
            Counter::ConnectionsFailed => "connections_failed",
            Counter::ConnectionsLost => "connections_lost",
            Counter::LoginsOk => "logins_ok",
            Counter::LoginsFailed => "logins_failed",
            Counter::RepeatLogins => "repeat_logins",
            Counter::Readies => "readies",
            Counter::Logouts => "logouts",
            Counter::LogoutsFailed => "logouts_failed",
            Counter::KicksMultipleAccount => "kicks_multipleAccount",
            Counter::KicksMultipleDevice => "kicks_multipleDevice",
            Counter::KicksUserSigExpired => "kicks_userSigExpired",
            Counter::KicksRestApi => "kicks_REST_API_Kick",
            Counter::ExpectedKicks => "expected_kicks",
            Counter::ExpectedKicksMax => "expected_kicks_max",
            Counter::TimeoutsConnect => "timeouts_connect",
            Counter::TimeoutsLogin => "timeouts_login",
            Counter::TimeoutsReady => "timeouts_ready",
            Counter::TimeoutsLogout => "timeouts_logout",
            Counter::MessagesSent => "messages_sent",
            Counter::MessagesOk => "messages_ok",
            Counter::MessagesFailed => "messages_failed",
            Counter::MessagesRefused => "messages_refused",
            Counter::MessagesReceived => "messages_received",
            Counter::ProtocolErrors => "protocol_errors",
            Counter::ProtocolErrorsUnmatched => "protocol_errors_unmatched",
            Counter::AdminKicksSent => "admin_kicks_sent",
            Counter::AdminKicksFailed => "admin_kicks_failed",
            Counter::CyclesCompleted => "cycles_completed",
            Counter::ArrivalsDropped => "arrivals_dropped",
            Counter::ProbesSent => "probes_sent",
            Counter::JudgmentWaitsExpired => "judgment_waits_expired",
            Counter::LoginsRefusedAfterAdminKick => "logins_refused_after_admin_kick",
            Counter::LogoutsRefusedAfterKick => "logouts_refused_after_kick",
            Counter::TakeoversInferred => "takeovers_inferred",
            Counter::ConnectionsLostPlanned => "connections_lost_planned",
            Counter::ConnectionsFailedPlanned => "connections_failed_planned",
            Counter::ReconnectAttempts => "reconnect_attempts",
            Counter::Reconnects => "reconnects",
            Counter::ReconnectsGivenUp => "reconnects_given_up",
            Counter::ReconnectsUnfinished => "reconnects_unfinished",
            Counter::SessionsDisrupted => "sessions_disrupted",
            Counter::ArrivalsUnsent => "arrivals_unsent",
        }
    }

    pub fn kick(t: KickType) -> Counter {
        match t {
            KickType::MultipleAccount => Counter::KicksMultipleAccount,
            KickType::MultipleDevice => Counter::KicksMultipleDevice,
            KickType::UserSigExpired => Counter::KicksUserSigExpired,
            KickType::RestApiKick => Counter::KicksRestApi,
        }
    }
}
