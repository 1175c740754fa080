//! One integration-test binary; each module covers one area, sharing `util`.

#[path = "it/util.rs"]
mod util;

#[path = "it/usersig.rs"]
mod usersig;

#[path = "it/server_rules.rs"]
mod server_rules;

#[path = "it/server_admin.rs"]
mod server_admin;

#[path = "it/server_faults.rs"]
mod server_faults;

#[path = "it/gateway.rs"]
mod gateway;

#[path = "it/server_budgets.rs"]
mod server_budgets;
#[path = "it/server_hostile.rs"]
mod server_hostile;

#[path = "it/cli.rs"]
mod cli;

#[path = "it/engine.rs"]
mod engine;

#[path = "it/shipped.rs"]
mod shipped;

#[path = "it/run_cli.rs"]
mod run_cli;

#[path = "it/interrupt.rs"]
mod interrupt;

#[path = "it/run_outputs.rs"]
mod run_outputs;

#[path = "it/checks.rs"]
mod checks;

#[path = "it/verdict.rs"]
mod verdict;

#[path = "it/matrix.rs"]
mod matrix;

#[path = "it/search.rs"]
mod search;

#[path = "it/props.rs"]
mod props;

#[path = "it/live_metrics.rs"]
mod live_metrics;

#[path = "it/shards.rs"]
mod shards;

#[path = "it/shards_processes.rs"]
mod shards_processes;

#[path = "it/shards_tampered.rs"]
mod shards_tampered;

#[path = "it/deploy.rs"]
mod deploy;

#[path = "it/dialect.rs"]
mod dialect;

#[path = "it/docs_commands.rs"]
mod docs_commands;

#[path = "it/real_servers.rs"]
mod real_servers;

#[path = "it/real_prosody.rs"]
mod real_prosody;

#[path = "it/real_ejabberd.rs"]
mod real_ejabberd;

#[path = "it/chaos.rs"]
mod chaos;

#[path = "it/trace.rs"]
mod trace;
