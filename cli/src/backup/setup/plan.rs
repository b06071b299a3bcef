//! The plan of a setup: every attribute of every key decided — from the options, the
//! interrupted run's wrap-key description (with `--resume`), the answers at a terminal,
//! or the defaults — and checked for consistency before the device is written to or a
//! custodian sees a share: every key setup makes must be exportable under its wrap key.

use std::fmt::Write as _;

use yhsm_proto::shares::ShareFormat;
use yhsm_proto::{Algorithm, Capabilities, Domains, Label, ObjectId};

use super::profile::{self, RSA_DECRYPTION, SetupProfile, WRAP_KEY_CAPABILITIES};
use super::{Args, DEFAULT_APP_KEY_ID, DEFAULT_AUDIT_KEY_ID, DEFAULT_DOMAINS, DEFAULT_WRAP_KEY_ID};
use crate::admin::authkey::Spec;
use crate::admin::profile::AUDIT;
use crate::backup::description::{Described, Description, RecordedKey, SetupRecord};
use crate::error::{Error, Result};
use crate::util::password::NewPassword;
use crate::util::prompt::{Prompter, confirm};
use crate::util::text;
use crate::wrapkey::shares::parse_share_count;

/// A key's id, label, domains, capabilities and delegated capabilities.
pub type KeySpec = Spec;

/// Which of the authentication keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Application,
    Audit,
}

impl Role {
    /// `application`, `audit`: as yubihsm-setup's messages name them.
    pub fn name(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::Audit => "audit",
        }
    }
}

/// Everything a setup makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub profile: SetupProfile,
    /// The wrap key (aes256-ccm-wrap).
    pub wrap: KeySpec,
    pub threshold: u8,
    pub count: u8,
    pub format: ShareFormat,
    pub application: Option<KeySpec>,
    pub audit: Option<KeySpec>,
    /// What the plan allows but the operator should know (printed as warnings).
    pub warnings: Vec<String>,
}

impl Plan {
    /// The wrap key's description, without check values.
    pub fn description(&self) -> Description {
        let w = &self.wrap;
        Description {
            id: w.id,
            algorithm: Algorithm::AES256_CCM_WRAP,
            label: w.label,
            domains: w.domains,
            capabilities: w.capabilities,
            delegated: w.delegated,
            kcv: None,
            shares: None,
            setup: None,
        }
    }

    /// The plan as the description records it, for `--resume`.
    pub fn record(&self) -> SetupRecord {
        let key = |spec: Option<KeySpec>| {
            spec.map(|s| RecordedKey {
                id: s.id,
                label: s.label,
                capabilities: s.capabilities,
                delegated: s.delegated,
            })
        };
        SetupRecord {
            profile: self.profile.name.to_owned(),
            application: key(self.application),
            audit: key(self.audit),
        }
    }

    /// The authentication keys to make, in order.
    pub fn keys(&self) -> Vec<(Role, KeySpec)> {
        [(Role::Application, self.application), (Role::Audit, self.audit)]
            .into_iter()
            .filter_map(|(role, spec)| spec.map(|s| (role, s)))
            .collect()
    }

    /// The plan as printed before anything is written.
    pub fn render(&self, serial: u32, login: ObjectId, keeps_login: Option<&str>) -> String {
        let w = &self.wrap;
        let mut out = format!("Setup (profile {}) of YubiHSM {serial}:\n", self.profile.name);
        let _ = writeln!(
            out,
            "  wrap key 0x{:04x} {}: aes256-ccm-wrap, domains {}, {} shares, any {} of which \
             recover it ({} format)",
            w.id,
            text::quoted(&w.label.to_string_lossy()),
            text::domain_list(w.domains),
            self.count,
            self.threshold,
            self.format.name()
        );
        let caps = |out: &mut String, spec: &KeySpec| {
            let _ = writeln!(out, "    capabilities: {}", spec.capabilities);
            let _ = writeln!(out, "    delegated:    {}", spec.delegated);
        };
        caps(&mut out, w);
        for (role, spec) in self.keys() {
            let _ = writeln!(
                out,
                "  {} key 0x{:04x} {}: domains {}",
                role.name(),
                spec.id,
                text::quoted(&spec.label.to_string_lossy()),
                text::domain_list(spec.domains)
            );
            caps(&mut out, &spec);
        }
        match keeps_login {
            None => {
                let _ = writeln!(
                    out,
                    "  then authentication key 0x{login:04x} (this login) is deleted, once every \
                     new key has opened a session"
                );
            }
            Some(why) => {
                let _ = writeln!(out, "  authentication key 0x{login:04x} is kept ({why})");
            }
        }
        out
    }
}

/// Asks what the options leave open, when someone is at the terminal.
struct Questions<'a> {
    prompter: Option<&'a mut dyn Prompter>,
}

impl Questions<'_> {
    /// `given`, or the answer to `question` (Enter takes `default`), or `default`.
    fn value<T>(
        &mut self,
        given: Option<T>,
        question: &str,
        default: (T, String),
        parse: &dyn Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<T> {
        if let Some(value) = given {
            return Ok(value);
        }
        let Some(p) = self.prompter.as_deref_mut() else { return Ok(default.0) };
        loop {
            let line = p
                .read_line(&format!("{question} [{}]: ", default.1))
                .map_err(terminal)?
                .ok_or_else(|| Error::failure(format!("no answer to `{question}`")))?;
            if line.trim().is_empty() {
                return Ok(default.0);
            }
            match parse(line.trim()) {
                Some(value) => return Ok(value),
                None => p.message(&format!("Expected {expected}.")).map_err(terminal)?,
            }
        }
    }

    /// `given`, or yes to `question` (anything but `y` is no), or no.
    fn yes_no(&mut self, given: Option<bool>, question: &str) -> Result<bool> {
        match (given, self.prompter.as_deref_mut()) {
            (Some(answer), _) => Ok(answer),
            (None, Some(p)) => confirm(p, question),
            (None, None) => Ok(false),
        }
    }
}

fn terminal(e: std::io::Error) -> Error {
    Error::failure("cannot ask at the terminal")
        .with_source(e)
        .with_hint("give the answers as options (`yhsm setup --help` lists one for every question)")
}

fn id_text(id: ObjectId) -> String {
    format!("0x{id:04x}")
}

fn parse_id(s: &str) -> Option<ObjectId> {
    yhsm_proto::object::parse_object_id(s).ok().filter(|&id| id != 0)
}

/// A value the interrupted run recorded, against the option that gives it again.
fn recorded<T: PartialEq>(
    given: Option<T>,
    recorded: T,
    option: &str,
    show: &dyn Fn(&T) -> String,
    described: &Described,
) -> Result<T> {
    match given {
        Some(value) if value != recorded => Err(Error::usage(format!(
            "{option} {}: the interrupted setup's description `{}` says {}",
            show(&value),
            described.file,
            show(&recorded)
        ))
        .with_hint("resume with the options of the interrupted run, or leave them out")),
        _ => Ok(recorded),
    }
}

/// `--resume`: the options with what the interrupted run's description records of its
/// plan filled in (profile, the keys' ids, capabilities and delegated capabilities); an
/// option that disagrees with the record is refused, naming both. A description without
/// a record (an older yhsm's) leaves the options as they are.
pub(super) fn resume_args(args: &Args, d: &Described) -> Result<Args> {
    let Some(rec) = &d.description.setup else { return Ok(args.clone()) };
    let broken = |what: String| {
        Error::failure(format!("the description `{}` records {what}", d.file)).with_hint(
            "the description was changed after setup wrote it; restore its setup lines, or \
             finish the setup by hand",
        )
    };
    let profile = profile::find(&rec.profile).ok_or_else(|| {
        broken(format!("profile `{}`, which yhsm setup does not make", rec.profile))
    })?;
    if profile.makes_keys() != rec.application.is_some()
        || (rec.audit.is_some() && rec.application.is_none())
    {
        return Err(broken(format!(
            "keys that profile {} does not make (or lacks its application key)",
            profile.name
        )));
    }
    let mut out = args.clone();
    out.profile = Some(recorded(args.profile, profile, "--profile", &|p| p.name.to_owned(), d)?);
    let caps = |c: &Capabilities| c.to_string();
    if let Some(app) = rec.application {
        out.app_key_id =
            Some(recorded(args.app_key_id, app.id, "--app-key-id", &|v| id_text(*v), d)?);
        out.capabilities =
            Some(recorded(args.capabilities, app.capabilities, "--capabilities", &caps, d)?);
        out.delegated = Some(recorded(args.delegated, app.delegated, "--delegated", &caps, d)?);
        if let Some(rsa) = args.rsa_decryption
            && rsa != app.capabilities.contains(RSA_DECRYPTION)
        {
            return Err(differs(
                "--rsa-decryption",
                d,
                &format!(
                    "an application key {} {RSA_DECRYPTION}",
                    if rsa { "without" } else { "with" }
                ),
            ));
        }
    }
    match rec.audit {
        Some(audit) => {
            if args.audit == Some(false) {
                return Err(differs(
                    "--no-audit",
                    d,
                    &format!("audit key 0x{:04x}, which the interrupted run makes", audit.id),
                ));
            }
            out.audit = Some(true);
            out.audit_key_id =
                Some(recorded(args.audit_key_id, audit.id, "--audit-key-id", &|v| id_text(*v), d)?);
        }
        None => {
            let asked = [
                ("--audit", args.audit == Some(true)),
                ("--audit-key-id", args.audit_key_id.is_some()),
                ("--audit-password-file", matches!(args.audit_password, NewPassword::File(_))),
            ];
            if let Some((option, _)) = asked.iter().find(|(_, given)| *given) {
                return Err(differs(option, d, "no audit key (`setup audit key: none`)"));
            }
            if profile.makes_keys() {
                out.audit = Some(false);
            }
        }
    }
    Ok(out)
}

/// An option that disagrees with the interrupted run's recorded plan.
fn differs(option: &str, described: &Described, recorded: &str) -> Error {
    Error::usage(format!(
        "{option}: the interrupted setup's description `{}` records {recorded}",
        described.file
    ))
    .with_hint("resume with the options of the interrupted run, or leave them out")
}

/// What the recorded plan makes, for the line that says it is resumed.
pub(super) fn recorded_plan(rec: &SetupRecord) -> String {
    let key = |role: &str, k: Option<RecordedKey>| match k {
        Some(k) => format!("{role} key 0x{:04x}", k.id),
        None => format!("no {role} key"),
    };
    if rec.application.is_none() {
        return format!("profile {}, the wrap key only", rec.profile);
    }
    format!(
        "profile {}, {}, {}",
        rec.profile,
        key("application", rec.application),
        key("audit", rec.audit)
    )
}

/// Decides the plan: the options first, then the interrupted run's description
/// (`earlier`), then the answers at `prompter` (when someone is at the terminal), then
/// the defaults.
pub(super) fn decide(
    args: &Args,
    earlier: Option<&Described>,
    prompter: Option<&mut dyn Prompter>,
) -> Result<Plan> {
    let mut q = Questions { prompter };
    let p = args.profile();
    let wrap_only = !p.makes_keys();
    let wrap_delegated_option =
        if wrap_only { args.delegated.or(args.wrap_delegated) } else { args.wrap_delegated };
    let label = |text: &str| text.parse::<Label>().unwrap_or_default();
    let (domains, wrap_id, wrap_delegated, (threshold, count), rsa) = match earlier {
        Some(d) => {
            let e = &d.description;
            let domains =
                recorded(args.domains, e.domains, "--domains", &|v| text::domain_list(*v), d)?;
            let id = recorded(args.wrap_key_id, e.id, "--wrap-key-id", &|v| id_text(*v), d)?;
            let delegated = recorded(
                wrap_delegated_option,
                e.delegated,
                "--wrap-delegated",
                &|v| v.to_string(),
                d,
            )?;
            let split = e.shares.as_ref().map(|s| (s.threshold, s.count)).ok_or_else(|| {
                Error::failure(format!(
                    "the description `{}` records no shares: it was not written by `yhsm \
                     setup`, so there is no setup to resume",
                    d.file
                ))
            })?;
            let split = (
                recorded(args.threshold, split.0, "-t", &|v| v.to_string(), d)?,
                recorded(args.shares, split.1, "-n", &|v| v.to_string(), d)?,
            );
            let rsa = p.asks_rsa_decryption
                && args.rsa_decryption.unwrap_or(delegated.contains(RSA_DECRYPTION));
            (domains, id, delegated, split, rsa)
        }
        None => {
            let domains = q.value(
                args.domains,
                "Domains of the new keys (1:2:3, or all)",
                (DEFAULT_DOMAINS, text::domain_list(DEFAULT_DOMAINS)),
                &|s| s.parse::<Domains>().ok().filter(|d| !d.is_empty()),
                "domains: numbers 1 to 16 separated by `:`, or all",
            )?;
            let id = q.value(
                args.wrap_key_id,
                "Wrap key ID",
                (DEFAULT_WRAP_KEY_ID, id_text(DEFAULT_WRAP_KEY_ID)),
                &parse_id,
                "an id from 1 to 0xffff (decimal, or hex with 0x)",
            )?;
            let (t0, n0) = args.split_or_default();
            let count = q.value(
                args.shares,
                "Number of shares (one per custodian)",
                (n0, n0.to_string()),
                &parse_share_count,
                "a number from 2 to 9",
            )?;
            let threshold = loop {
                let t = q.value(
                    args.threshold,
                    "Shares needed to recover the wrap key (the threshold)",
                    (t0.min(count), t0.min(count).to_string()),
                    &parse_share_count,
                    "a number from 2 to 9",
                )?;
                if t <= count {
                    break t;
                }
                if args.threshold.is_some() {
                    return Err(Error::usage(format!(
                        "-t {t} is more than the {count} shares made: make at least {t}"
                    )));
                }
                if let Some(p) = q.prompter.as_deref_mut() {
                    p.message(&format!("At most {count}, the number of shares."))
                        .map_err(terminal)?;
                }
            };
            let rsa = p.asks_rsa_decryption
                && q.yes_no(
                    args.rsa_decryption,
                    "Add RSA decryption (decrypt-pkcs, decrypt-oaep) to the keys?",
                )?;
            let delegated = wrap_delegated_option.unwrap_or(if rsa {
                p.wrap_delegated.union(RSA_DECRYPTION)
            } else {
                p.wrap_delegated
            });
            (domains, id, delegated, (threshold, count), rsa)
        }
    };
    let wrap = KeySpec {
        id: wrap_id,
        label: label(profile::WRAP_KEY_LABEL),
        domains,
        capabilities: WRAP_KEY_CAPABILITIES,
        delegated: wrap_delegated,
    };
    let mut plan = Plan {
        profile: p,
        wrap,
        threshold,
        count,
        format: args.share_format,
        application: None,
        audit: None,
        warnings: Vec::new(),
    };
    let Some(app) = p.application else { return Ok(plan) };
    let extra = if rsa { RSA_DECRYPTION } else { Capabilities::NONE };
    let app_id = q.value(
        args.app_key_id,
        "Application authentication key ID",
        (DEFAULT_APP_KEY_ID, id_text(DEFAULT_APP_KEY_ID)),
        &parse_id,
        "an id from 1 to 0xffff (decimal, or hex with 0x)",
    )?;
    let rec = earlier.and_then(|d| d.description.setup.as_ref());
    let recorded_label =
        |k: Option<RecordedKey>, default: &str| k.map_or(label(default), |k| k.label);
    plan.application = Some(KeySpec {
        id: app_id,
        label: recorded_label(rec.and_then(|r| r.application), app.label),
        domains,
        capabilities: args.capabilities.unwrap_or(app.capabilities.union(extra)),
        delegated: args.delegated.unwrap_or(app.delegated.union(extra)),
    });
    let audit = args.audit.unwrap_or(args.audit_implied())
        || (args.audit.is_none()
            && q.yes_no(None, "Create an audit key (reads the audit log)?")?);
    if audit {
        let audit_id = q.value(
            args.audit_key_id,
            "Audit authentication key ID",
            (DEFAULT_AUDIT_KEY_ID, id_text(DEFAULT_AUDIT_KEY_ID)),
            &parse_id,
            "an id from 1 to 0xffff (decimal, or hex with 0x)",
        )?;
        plan.audit = Some(KeySpec {
            id: audit_id,
            label: recorded_label(rec.and_then(|r| r.audit), AUDIT.label),
            domains,
            capabilities: AUDIT.capabilities,
            delegated: AUDIT.delegated,
        });
    }
    check(&mut plan)?;
    Ok(plan)
}

/// Every key setup makes must be exportable under the wrap key (that is its backup); the
/// keys the application key makes should be too.
fn check(plan: &mut Plan) -> Result<()> {
    let delegated = plan.wrap.delegated;
    if let (Some(app), Some(audit)) = (plan.application, plan.audit)
        && app.id == audit.id
    {
        return Err(Error::usage(format!(
            "the application key and the audit key would both be authentication key 0x{:04x}: \
             give each its own id",
            app.id
        )));
    }
    for (role, spec) in plan.keys() {
        if !spec.capabilities.contains(Capabilities::EXPORTABLE_UNDER_WRAP) {
            return Err(Error::usage(format!(
                "the {} key would lack exportable-under-wrap, so it could not be backed up \
                 under the wrap key",
                role.name()
            )));
        }
        let missing = Capabilities(spec.capabilities.0 & !delegated.0);
        if !missing.is_empty() {
            return Err(Error::usage(format!(
                "the wrap key would not delegate {missing}, which the {} key has, so that key \
                 could not be exported under it (backed up)",
                role.name()
            ))
            .with_hint("add them to --wrap-delegated, or drop them from the key"));
        }
    }
    if let Some(app) = plan.application {
        let missing = Capabilities(app.delegated.0 & !delegated.0);
        if !missing.is_empty() {
            plan.warnings.push(format!(
                "the application key may make keys with {missing}, which the wrap key does not \
                 delegate: such keys cannot be backed up under it"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::prompt::ScriptedPrompter;

    #[test]
    fn defaults_make_yubihsm_setups_ksp_objects() {
        let args = Args { audit: Some(true), ..Args::default() };
        let plan = decide(&args, None, None).unwrap();
        assert_eq!((plan.wrap.id, plan.threshold, plan.count), (2, 2, 3));
        assert_eq!(plan.wrap.label.to_string_lossy(), "Wrap key");
        assert_eq!(plan.wrap.capabilities.to_string(), "export-wrapped,import-wrapped");
        let app = plan.application.unwrap();
        assert_eq!((app.id, app.label.to_string_lossy().as_str()), (3, "Application auth key"));
        assert_eq!(plan.audit.unwrap().id, 4);
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
        assert_eq!(plan.description().algorithm, Algorithm::AES256_CCM_WRAP);
    }

    #[test]
    fn a_key_the_wrap_key_cannot_export_is_refused() {
        let args =
            Args { wrap_delegated: Some(Capabilities::EXPORTABLE_UNDER_WRAP), ..Args::default() };
        let e = decide(&args, None, None).unwrap_err();
        assert!(e.message().starts_with("the wrap key would not delegate"), "{}", e.message());
        let args = Args { capabilities: Some(Capabilities::SIGN_ECDSA), ..Args::default() };
        let e = decide(&args, None, None).unwrap_err();
        assert!(e.message().contains("lack exportable-under-wrap"), "{}", e.message());
    }

    #[test]
    fn asks_what_the_options_leave_open_and_asks_again_after_a_wrong_answer() {
        let mut p = ScriptedPrompter::interactive(&["", "0", "5", "4", "5", "3", "y", "", "y", ""]);
        let plan = decide(&Args::default(), None, Some(&mut p)).unwrap();
        assert_eq!((plan.wrap.id, plan.count, plan.threshold), (5, 4, 3));
        assert!(plan.application.unwrap().capabilities.contains(RSA_DECRYPTION));
        assert!(plan.wrap.delegated.contains(RSA_DECRYPTION));
        assert_eq!(plan.audit.unwrap().id, 4);
        assert!(
            p.transcript
                .iter()
                .any(|l| l == "Expected an id from 1 to 0xffff (decimal, or hex with 0x).")
        );
        assert!(p.transcript.iter().any(|l| l == "At most 4, the number of shares."));
    }
}
