//! The `chat-server` binary: flags → config → logging → bind → [`chat_server::run`] → exit
//! code. Everything else lives in the library, where the tests can reach it.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use chat_proto::Secret;
use chat_server::accounts::admin::{self, Action};
use chat_server::accounts::Accounts;
use chat_server::cli::{AccountAction, Cli, Command};
use chat_server::config::{Config, Resolved};
use chat_server::log::Store;
use clap::Parser;

/// Exit code for a configuration the server cannot use (as clap's usage errors).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    let resolved = match Config::resolve(&cli) {
        Ok(resolved) => resolved,
        Err(err) => {
            eprintln!("chat-server: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Some(Command::Account { action }) = cli.command.take() {
        return match account(action, &resolved.config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("chat-server: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    // `--log-level`, else `RUST_LOG`, else `[server] log_level`, else `info`.
    let fixed_level = cli
        .log_level
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok());
    let level = fixed_level.clone().or(resolved.config.log_level.clone());
    let log_level = match chat_proto::logging::init(level.as_deref(), std::io::stderr) {
        Ok(log_level) => Levels {
            handle: log_level,
            fixed: fixed_level.is_some(),
        },
        Err(err) => {
            eprintln!("chat-server: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // A room log that cannot be opened is a setting the server cannot use, like a bad key.
    let store = match chat_server::open_store(&resolved.config) {
        Ok(store) => store,
        Err(err) => {
            eprintln!("chat-server: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match serve(cli, log_level, resolved, store) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `chat-server account ...`: opens the accounts (in `[store] path`, or a cluster's bucket)
/// and carries out `action`, printing what it did.
fn account(action: AccountAction, config: &Config) -> anyhow::Result<()> {
    let action = match action {
        AccountAction::Add {
            name,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("cannot read the password from stdin")?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            } else {
                rpassword::prompt_password(format!("Password for {name}: "))
                    .context("cannot read the password from the terminal")?
            };
            Action::Add {
                name,
                password: Secret::new(password),
            }
        }
        AccountAction::Delete { name } => Action::Delete { name },
        AccountAction::List => Action::List,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let lines = runtime.block_on(async {
        let accounts = open_accounts(config).await?;
        anyhow::Ok(admin::run(&accounts, action).await?)
    })?;
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// Runs the server until SIGINT or SIGTERM; on SIGHUP, reads the settings `cli` names again.
fn serve(
    cli: Cli,
    log_level: Levels,
    resolved: Resolved,
    store: Option<Arc<dyn Store>>,
) -> anyhow::Result<()> {
    let Resolved { config, unknown } = resolved;
    let source = config.source.as_ref().map_or_else(
        || "built-in defaults".to_owned(),
        |p| p.display().to_string(),
    );
    for key in &unknown {
        tracing::warn!("{source}: unknown setting {key} ignored");
    }
    tracing::info!("Settings from {source}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Installed before binding, so a signal sent as soon as "Listening on" appears is
        // already ours and not the default "terminate at once".
        let shutdown = shutdown_signal().context("cannot install signal handlers")?;
        let listener = chat_server::bind(&config.host, config.port)
            .await
            .map_err(|err| {
                anyhow!(
                    "cannot listen on {}:{}: {err}; another port: [server] port, or --port",
                    config.host,
                    config.port
                )
            })?;
        let web = match &config.http {
            None => None,
            Some(_) if !cfg!(feature = "web") => {
                tracing::warn!(
                    "[http] is set, but this chat-server was built without the web feature: \
                     no web listener"
                );
                None
            }
            Some(http) => Some(chat_server::bind(&config.host, http.port).await.map_err(
                |err| {
                    anyhow!(
                        "cannot listen for the web client on {}:{}: {err}; another port: \
                             [http] port, or --http-port (off: no web listener)",
                        config.host,
                        http.port
                    )
                },
            )?),
        };
        let reloads = reload_signal(cli, log_level, config.log_level.clone())
            .context("cannot install the SIGHUP handler")?;
        chat_server::run(listener, web, config, store, shutdown, reloads).await?;
        anyhow::Ok(())
    })?;
    runtime.shutdown_timeout(Duration::from_millis(100));
    tracing::info!("Stopped");
    Ok(())
}

/// Completes on the first SIGINT or SIGTERM, logging which.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!("Received {name}");
    })
}

/// On every SIGHUP, the settings `cli` names read again (flags over `config.ini` over the
/// defaults, as at start) and sent to the server to put in force; a file that does not
/// parse is refused whole with an ERROR line, and the running settings stay.
#[cfg(unix)]
fn reload_signal(
    cli: Cli,
    levels: Levels,
    mut level: Option<String>,
) -> std::io::Result<chat_server::Reloads> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = signal(SignalKind::hangup())?;
    let (reload, reloads) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::info!("Received SIGHUP: reading the settings again");
            match Config::resolve(&cli) {
                Ok(Resolved { config, unknown }) => {
                    for key in &unknown {
                        tracing::warn!("Reload: unknown setting {key} ignored");
                    }
                    if config.log_level != level {
                        levels.set(config.log_level.as_deref());
                        level.clone_from(&config.log_level);
                    }
                    if reload.send(config).is_err() {
                        return;
                    }
                }
                Err(err) => {
                    tracing::error!("Reload refused, the running settings stay: {err}")
                }
            }
        }
    });
    Ok(reloads)
}

/// No SIGHUP here: the settings are read once.
#[cfg(not(unix))]
fn reload_signal(
    _cli: Cli,
    _levels: Levels,
    _level: Option<String>,
) -> std::io::Result<chat_server::Reloads> {
    let (_reload, reloads) = tokio::sync::mpsc::unbounded_channel();
    Ok(reloads)
}

/// The log filter, and whether `--log-level` or `RUST_LOG` set it (they win over
/// `[server] log_level`, at start and at a reload).
struct Levels {
    /// Changes the filter.
    handle: chat_proto::logging::LogLevel,
    /// Set by the flag or the environment.
    fixed: bool,
}

impl Levels {
    /// Puts `[server] log_level` = `level` (`None`: `info`) in force, unless the flag or the
    /// environment set the filter; says which.
    fn set(&self, level: Option<&str>) {
        if self.fixed {
            tracing::warn!(
                "Reload: [server] log_level changed, but --log-level or RUST_LOG sets the \
                 filter: kept as it was"
            );
            return;
        }
        let level = level.unwrap_or("info");
        match self.handle.set(level) {
            Ok(()) => tracing::info!("Reload: [server] log_level is now {level}"),
            Err(err) => tracing::error!("Reload: {err}"),
        }
    }
}

/// Completes on the first Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Received Ctrl-C");
    })
}

/// The accounts a server with `config` keeps: the cluster's bucket for a node of one, else
/// the SQLite file at `[store] path`.
async fn open_accounts(config: &Config) -> anyhow::Result<Arc<Accounts>> {
    if let Some(cluster) = &config.cluster {
        return cluster_accounts(cluster, config).await;
    }
    let store = config
        .store
        .as_ref()
        .context("[store] path is off: this server keeps no accounts")?;
    chat_server::open_accounts(&store.path, config.accounts)
        .with_context(|| format!("cannot open the accounts in {}", store.path.display()))
}

/// The accounts bucket of the cluster `settings` names.
#[cfg(feature = "cluster")]
async fn cluster_accounts(
    settings: &chat_server::config::ClusterConfig,
    config: &Config,
) -> anyhow::Result<Arc<Accounts>> {
    let bucket = chat_server::cluster::accounts::KvAccounts::connect(settings)
        .await
        .with_context(|| {
            format!(
                "cannot reach the accounts in NATS at {}",
                settings.shown_url()
            )
        })?;
    Ok(chat_server::accounts_in(Arc::new(bucket), config.accounts)?)
}

/// A build without the cluster feature keeps no accounts for a cluster.
#[cfg(not(feature = "cluster"))]
async fn cluster_accounts(
    _settings: &chat_server::config::ClusterConfig,
    _config: &Config,
) -> anyhow::Result<Arc<Accounts>> {
    anyhow::bail!("[cluster] is set, but this chat-server was built without the cluster feature")
}
