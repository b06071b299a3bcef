//! Opening the device for the device subcommands (docs/PROTOCOL.md §1.3 connector URLs, §4
//! sessions): the connector from `-c`, the observers of `-v`, `--trace` and `--trace-raw`,
//! the password and the session. Every device subcommand goes through here, so `-v` and `--trace` work
//! for all of them: [`connect`] returns a client with its session open; [`login`] returns
//! the client and the credentials for commands that log in themselves (restore and verify
//! open sessions with restored keys and log in again after them).

use std::ffi::OsString;
use std::io;

use yhsm_transport::{
    Client, ClientError, ClientOptions, ConnectorUrl, Credentials, Transport, TransportError,
};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::options::GlobalOptions;
use crate::trace;
use crate::util::password;
use crate::util::prompt::Prompter;
use crate::util::timeout;

/// Opens the transport a connector URL names: the real one ([`yhsm_transport::open`]), or
/// in tests a simulator the test holds (to inject faults and look at the device).
pub type OpenTransport<'a> =
    dyn FnMut(&ConnectorUrl) -> Result<Box<dyn Transport>, TransportError> + 'a;

/// What opens the transport of `-c` with the wait of `--timeout` (or `YHSM_TIMEOUT`).
pub fn opener(
    global: &GlobalOptions,
) -> impl FnMut(&ConnectorUrl) -> Result<Box<dyn Transport>, TransportError> + use<> {
    let timeouts = timeout::timeouts(global.timeout);
    move |url| yhsm_transport::open(url, timeouts)
}

/// Opens the connector the global options name, with the observers of `-v` and
/// `--trace` installed, and reads the device info (outside a session).
pub fn open(global: &GlobalOptions) -> Result<Client> {
    open_with(global, &mut opener(global))
}

/// [`open`] through `transport` instead of [`opener`]: the same observers, the same
/// messages, and the same end to waiting on a device that stopped answering
/// ([`timeout::StallGuard`]).
pub fn open_with(global: &GlobalOptions, transport: &mut OpenTransport<'_>) -> Result<Client> {
    let mut options = ClientOptions::new();
    if let Some(observer) = trace::observer(global)? {
        options = options.observer(observer);
    }
    let exchange_timeout = timeout::timeouts(global.timeout).exchange;
    let connected = transport(&global.connector)
        .map_err(|source| ClientError::Connect { source })
        .map(|t| Box::new(timeout::StallGuard::new(t, exchange_timeout)) as Box<dyn Transport>)
        .and_then(|t| Client::with_transport_options(t, options));
    connected.map_err(|e| {
        let what = match &e {
            ClientError::Connect { .. } => {
                format!("cannot connect to the YubiHSM at {}", global.connector)
            }
            _ => format!("cannot read the device info from {}", global.connector),
        };
        Error::failure(what).with_source(e)
    })
}

/// [`open`], then a session with the authentication key of `-k` and its password
/// ([`password::resolve_password`]: `--password-file`, `-p`, `env_password` — the value of
/// `YHSM_PASSWORD` — or `prompt`).
///
/// The password is asked for after the device answered, so a missing device is reported
/// before anyone types anything.
pub fn connect(
    global: &GlobalOptions,
    env_password: Option<OsString>,
    prompt: &mut dyn FnMut(&str) -> io::Result<Option<Zeroizing<String>>>,
) -> Result<Client> {
    let mut client = open(global)?;
    let password =
        password::resolve_password(&global.password, global.authkey, env_password, prompt)?;
    let credentials = Credentials::password(global.authkey, password.expose_secret());
    drop(password);
    client.authenticate(credentials).map_err(|e| {
        Error::failure(format!("cannot open a session on {}", client.describe())).with_source(e)
    })?;
    Ok(client)
}

/// A client not yet authenticated, and the credentials to log in with.
#[derive(Debug)]
pub struct Login {
    pub client: Client,
    pub credentials: Credentials,
}

/// Resolves the password (`--password-file`, `-p`, `env`, or a no-echo prompt at
/// `prompter`) and connects to the device the global options name.
pub fn login(
    global: &GlobalOptions,
    env: Option<OsString>,
    prompter: &mut dyn Prompter,
) -> Result<Login> {
    login_with(global, env, prompter, &mut opener(global))
}

/// [`login`] through `transport` (see [`open_with`]).
pub fn login_with(
    global: &GlobalOptions,
    env: Option<OsString>,
    prompter: &mut dyn Prompter,
    transport: &mut OpenTransport<'_>,
) -> Result<Login> {
    let password = password::resolve_password(&global.password, global.authkey, env, &mut |p| {
        prompter.read_secret(p)
    })?;
    let client = open_with(global, transport)?;
    let credentials = Credentials::password(global.authkey, password.expose_secret());
    Ok(Login { client, credentials })
}

impl Login {
    /// Opens the session; the client, with the credentials kept for later sessions.
    pub fn authenticate(mut self) -> Result<Self> {
        self.client.authenticate(self.credentials.clone()).map_err(|e| {
            Error::failure(format!("cannot open a session on {}", self.client.describe()))
                .with_source(e)
        })?;
        Ok(self)
    }
}

/// Opens the connector of the global options again, without observers (for a device
/// that went away, e.g. rebooting after a reset; move the first client's observer over
/// with [`Client::take_observer`] and [`Client::set_observer`]).
pub fn reopen(global: &GlobalOptions) -> Result<Client> {
    opener(global)(&global.connector)
        .map_err(|source| ClientError::Connect { source })
        .and_then(Client::with_transport)
        .map_err(|e| {
            Error::failure(format!("cannot connect to the YubiHSM at {}", global.connector))
                .with_source(e)
        })
}

/// How many times a password typed at the terminal may be wrong before the command
/// gives up (issue 10 §5).
pub const PASSWORD_ATTEMPTS: usize = 3;

/// Whether the password will be typed at the terminal (no file, `-p` or environment
/// variable gives it).
pub fn password_is_typed(global: &GlobalOptions, env: Option<&OsString>) -> bool {
    global.password.file.is_none()
        && global.password.argument.is_none()
        && env.is_none_or(|v| v.is_empty())
}

/// Why logging in failed, for the commands that log in before anything else: the key
/// missing (most likely deleted by a restore that finished) says so.
pub fn login_error(e: ClientError, key_id: yhsm_proto::ObjectId) -> Error {
    let error = Error::failure("cannot log in; nothing was written");
    if e.code() == Some(yhsm_proto::ErrorCode::OBJECT_NOT_FOUND) {
        error.with_source(e).with_hint(format!(
            "authentication key 0x{key_id:04x} is not on the device (a restore that finished \
             deletes it): log in with a restored authentication key (-k ID)"
        ))
    } else {
        error.with_source(e)
    }
}

/// Connects and logs in now, checking the password, before the command asks anyone for
/// anything else (restore asks custodians for their shares after this). A password typed
/// at the terminal that the device refuses is asked for again, up to
/// [`PASSWORD_ATTEMPTS`] times in all; one from a file, `-p` or the environment is not.
/// Returns the authenticated client and its credentials.
pub fn login_now(
    global: &GlobalOptions,
    env: Option<OsString>,
    prompter: &mut dyn Prompter,
    transport: &mut OpenTransport<'_>,
) -> Result<Login> {
    let typed = password_is_typed(global, env.as_ref());
    let mut client = open_with(global, transport)?;
    let mut env = env;
    let mut attempt = 1;
    loop {
        let password =
            password::resolve_password(&global.password, global.authkey, env.take(), &mut |p| {
                prompter.read_secret(p)
            })?;
        let credentials = Credentials::password(global.authkey, password.expose_secret());
        drop(password);
        match client.authenticate(credentials.clone()) {
            Ok(()) => return Ok(Login { client, credentials }),
            Err(ClientError::AuthenticationFailed { .. })
                if typed && attempt < PASSWORD_ATTEMPTS =>
            {
                let left = PASSWORD_ATTEMPTS - attempt;
                prompter
                    .message(&format!(
                        "Wrong password for authentication key 0x{:04x} (or another key under \
                         that id); {left} {} left",
                        global.authkey,
                        if left == 1 { "attempt" } else { "attempts" }
                    ))
                    .map_err(|e| Error::failure("cannot write to the terminal").with_source(e))?;
                attempt += 1;
            }
            Err(e) => return Err(login_error(e, global.authkey)),
        }
    }
}

/// A failed command on an open client: `what` says what was being done.
pub fn command_error(what: impl Into<String>, e: ClientError) -> Error {
    let refused = matches!(e, ClientError::RawTraceRefused { .. });
    let error = Error::failure(what).with_source(e);
    if refused { error.with_hint(trace::RAW_TRACE_REFUSED_HINT) } else { error }
}
