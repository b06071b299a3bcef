//! Creating the gadget in configfs (`usb_gadget/<name>`), binding it to a USB device
//! controller (UDC), and mounting the FunctionFS instance it serves through.
//!
//! Everything is plain file writes, except mounting, which runs the system's `mount` and
//! `umount` binaries (this crate forbids `unsafe`, and `mount(2)` has no safe std wrapper).
//! Needs root, configfs mounted (usually at `/sys/kernel/config`) and the kernel modules
//! `libcomposite` and `usb_f_fs` (plus a UDC driver, e.g. `dummy_hcd` for tests).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::GadgetError;

/// The real device's USB ids and strings (docs/PROTOCOL.md §1.1 "USB").
pub const VENDOR_ID: u16 = 0x1050;
pub const PRODUCT_ID: u16 = 0x0030;
pub const MANUFACTURER: &str = "Yubico";
pub const PRODUCT: &str = "YubiHSM";

/// Where configfs is mounted on a usual system.
pub const DEFAULT_CONFIGFS: &str = "/sys/kernel/config";
/// Where the kernel lists UDCs.
pub const SYS_CLASS_UDC: &str = "/sys/class/udc";

/// What gadget to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GadgetConfig {
    /// The device serial, shown as the iSerialNumber string.
    pub serial: u32,
    /// Directory name under `usb_gadget/`, also the FunctionFS instance name (the `mount`
    /// source). Defaults to `yhsm<serial>`.
    pub name: String,
    /// Where configfs is mounted.
    pub configfs: PathBuf,
    /// Bulk OUT endpoints to claim with a hidden function bound before ours, so that ours
    /// gets OUT 0x01 ([`super::descriptors::reservation_descriptors`] says why);
    /// [`reserved_bulk_out_for`] knows how many a UDC needs.
    pub reserved_bulk_out: u8,
}

impl GadgetConfig {
    /// A gadget named `yhsm<serial>` under [`DEFAULT_CONFIGFS`] for the UDC `udc`.
    pub fn new(serial: u32, udc: &str) -> Self {
        Self {
            serial,
            name: format!("yhsm{serial}"),
            configfs: PathBuf::from(DEFAULT_CONFIGFS),
            reserved_bulk_out: reserved_bulk_out_for(udc),
        }
    }

    fn reservation_instance(&self) -> Option<String> {
        (self.reserved_bulk_out > 0).then(|| format!("{}_reserve", self.name))
    }
}

/// How many bulk OUT endpoints must be reserved on the UDC `udc` for the YubiHSM function
/// to get OUT 0x01: three on dummy_hcd (`dummy_udc.N`), whose autoconfig offers OUT
/// endpoints 2, 7 and 12 before 1; none elsewhere.
pub fn reserved_bulk_out_for(udc: &str) -> u8 {
    if udc.starts_with("dummy_udc") { 3 } else { 0 }
}

/// The iSerialNumber string for `serial`: decimal, zero-padded to 10 digits so clients
/// meet the leading zeros of docs/PROTOCOL.md §1.1 (the width is yubihsm-connector's; not observed
/// on a real device).
pub fn serial_string(serial: u32) -> String {
    format!("{serial:010}")
}

/// A gadget in configfs: one configuration with one FunctionFS function. Removed from
/// configfs on [`Gadget::remove`], or best-effort on drop.
#[derive(Debug)]
pub struct Gadget {
    dir: PathBuf,
    name: String,
    reservation: Option<String>,
    removed: bool,
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> GadgetError + 'a {
    move |source| GadgetError::Io { action, path: path.to_path_buf(), source }
}

/// Writes `value` to a configfs or sysfs attribute in one `write` call (attributes take
/// their value from a single write).
fn write_attr(path: &Path, value: &str) -> Result<(), GadgetError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(io_err("cannot open", path))?;
    file.write_all(value.as_bytes()).map_err(io_err("cannot write", path))
}

fn mkdir(path: &Path) -> Result<(), GadgetError> {
    match fs::create_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(io_err("cannot create", path)(e)),
        _ => Ok(()),
    }
}

impl Gadget {
    /// Creates `usb_gadget/<name>` with the real device's ids and strings, configuration
    /// `c.1` and function `ffs.<name>` linked into it. Fails with a hint when configfs or
    /// the gadget modules are missing, or when the name is taken.
    pub fn create(config: &GadgetConfig) -> Result<Self, GadgetError> {
        if config.name.is_empty()
            || !config.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(GadgetError::InvalidName { name: config.name.clone() });
        }
        let root = config.configfs.join("usb_gadget");
        if !root.is_dir() {
            return Err(GadgetError::NoConfigfs { path: root });
        }
        let dir = root.join(&config.name);
        if dir.exists() {
            return Err(GadgetError::Exists { path: dir });
        }
        mkdir(&dir)?;
        let gadget = Self {
            dir,
            name: config.name.clone(),
            reservation: config.reservation_instance(),
            removed: false,
        };
        gadget.populate(config.serial)?;
        Ok(gadget)
    }

    fn populate(&self, serial: u32) -> Result<(), GadgetError> {
        let d = &self.dir;
        write_attr(&d.join("idVendor"), &format!("{VENDOR_ID:#06x}"))?;
        write_attr(&d.join("idProduct"), &format!("{PRODUCT_ID:#06x}"))?;
        // The real device runs at full speed; holding the gadget there gives hosts the same
        // 64-byte bulk packets on any UDC. Older kernels lack the attribute: then the
        // high-speed descriptors apply on high-speed UDCs.
        let max_speed = d.join("max_speed");
        if max_speed.exists() {
            write_attr(&max_speed, "full-speed")?;
        }
        let strings = d.join("strings/0x409");
        mkdir(&strings)?;
        write_attr(&strings.join("manufacturer"), MANUFACTURER)?;
        write_attr(&strings.join("product"), PRODUCT)?;
        write_attr(&strings.join("serialnumber"), &serial_string(serial))?;
        let config = d.join("configs/c.1");
        mkdir(&config)?;
        // Functions bind in the order they are linked: the reservation must come first.
        for function in self.function_dir_names() {
            let dir = d.join("functions").join(&function);
            mkdir(&dir).map_err(|e| match e {
                GadgetError::Io { source, path, .. }
                    if source.kind() == io::ErrorKind::NotFound =>
                {
                    GadgetError::Io { action: "cannot create (is usb_f_fs loaded?)", path, source }
                }
                e => e,
            })?;
            let link = config.join(&function);
            symlink(&dir, &link).map_err(io_err("cannot link", &link))?;
        }
        Ok(())
    }

    /// `ffs.<instance>` of each function, in binding order.
    fn function_dir_names(&self) -> Vec<String> {
        self.reservation.iter().chain([&self.name]).map(|i| format!("ffs.{i}")).collect()
    }

    /// The gadget's configfs directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The FunctionFS instance name: the source to mount with `-t functionfs`.
    pub fn function_instance(&self) -> &str {
        &self.name
    }

    /// The FunctionFS instance of the endpoint reservation, when the config asked for one:
    /// mount it and hold [`super::EndpointReservation`] open while the gadget is bound.
    pub fn reservation_instance(&self) -> Option<&str> {
        self.reservation.as_deref()
    }

    /// The UDC the gadget is bound to, if any.
    pub fn udc(&self) -> Result<Option<String>, GadgetError> {
        let path = self.dir.join("UDC");
        let udc = fs::read_to_string(&path).map_err(io_err("cannot read", &path))?;
        let udc = udc.trim();
        Ok((!udc.is_empty()).then(|| udc.to_owned()))
    }

    /// Binds the gadget to `udc` (a name under `/sys/class/udc`): the host sees the device
    /// appear. FunctionFS must already have its descriptors ([`super::FunctionFs::open`]),
    /// or the kernel refuses the bind.
    pub fn bind(&self, udc: &str) -> Result<(), GadgetError> {
        self.unbinder().bind(udc)
    }

    /// Unbinds the gadget: the host sees the device unplugged, and a running
    /// [`super::FunctionFs::serve`] returns. Doing it when not bound is not an error.
    pub fn unbind(&self) -> Result<(), GadgetError> {
        self.unbinder().unbind()
    }

    /// A handle that can unbind the gadget from another thread (e.g. on a signal), which
    /// is how a blocked [`super::FunctionFs::serve`] is stopped.
    pub fn unbinder(&self) -> Unbinder {
        Unbinder { udc_file: self.dir.join("UDC") }
    }

    /// Unbinds and removes the gadget from configfs. Unmount its FunctionFS instance first
    /// ([`FfsMount::unmount`]): the kernel keeps a mounted function.
    pub fn remove(mut self) -> Result<(), GadgetError> {
        self.removed = true;
        self.teardown()
    }

    fn teardown(&self) -> Result<(), GadgetError> {
        self.unbind()?;
        let config = self.dir.join("configs/c.1");
        let functions = self.function_dir_names();
        for function in &functions {
            let link = config.join(function);
            if link.symlink_metadata().is_ok() {
                fs::remove_file(&link).map_err(io_err("cannot remove", &link))?;
            }
        }
        let dirs = [config.join("strings/0x409"), config]
            .into_iter()
            .chain(functions.iter().map(|f| self.dir.join("functions").join(f)))
            .chain([self.dir.join("strings/0x409"), self.dir.clone()]);
        for dir in dirs {
            if dir.exists() {
                fs::remove_dir(&dir).map_err(io_err("cannot remove", &dir))?;
            }
        }
        Ok(())
    }
}

impl Drop for Gadget {
    fn drop(&mut self) {
        if !self.removed {
            // Best effort: an error here has no one to go to, and leaving the gadget is
            // what would happen without the drop anyway.
            let _ = self.teardown();
        }
    }
}

/// Binds and unbinds one gadget through its `UDC` attribute; `Send` and cloneable.
#[derive(Clone, Debug)]
pub struct Unbinder {
    udc_file: PathBuf,
}

impl Unbinder {
    fn bind(&self, udc: &str) -> Result<(), GadgetError> {
        write_attr(&self.udc_file, udc).map_err(|e| match e {
            GadgetError::Io { source, .. } => GadgetError::Bind { udc: udc.to_owned(), source },
            e => e,
        })
    }

    /// Unbinds the gadget from its UDC, if bound.
    pub fn unbind(&self) -> Result<(), GadgetError> {
        let current =
            fs::read_to_string(&self.udc_file).map_err(io_err("cannot read", &self.udc_file))?;
        if current.trim().is_empty() {
            return Ok(());
        }
        // The kernel wants a newline or nothing; an empty write is ignored by some kernels.
        write_attr(&self.udc_file, "\n")
    }
}

/// The UDCs of this machine (names under `sys_class_udc`, usually [`SYS_CLASS_UDC`]),
/// sorted.
pub fn list_udcs(sys_class_udc: &Path) -> Result<Vec<String>, GadgetError> {
    let entries = match fs::read_dir(sys_class_udc) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("cannot list", sys_class_udc)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("cannot list", sys_class_udc))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// The UDC to bind to: `requested` if it exists, else the only UDC there is. Several UDCs
/// without a request is an error naming them, so a gadget never lands on a surprising one.
pub fn choose_udc(sys_class_udc: &Path, requested: Option<&str>) -> Result<String, GadgetError> {
    let udcs = list_udcs(sys_class_udc)?;
    match (requested, udcs.as_slice()) {
        (Some(name), _) if udcs.iter().any(|u| u == name) => Ok(name.to_owned()),
        (Some(name), _) => Err(GadgetError::UdcNotFound { name: name.to_owned(), available: udcs }),
        (None, []) => Err(GadgetError::NoUdc),
        (None, [only]) => Ok(only.clone()),
        (None, _) => Err(GadgetError::SeveralUdcs { available: udcs }),
    }
}

/// A mounted FunctionFS instance; unmounted on [`FfsMount::unmount`] or best-effort on
/// drop.
#[derive(Debug)]
pub struct FfsMount {
    dir: PathBuf,
    mounted: bool,
}

/// Runs `program args…`, turning a failure into an error that names the command and
/// carries its stderr.
fn run(program: &str, args: &[&str]) -> Result<(), GadgetError> {
    let command = format!("{program} {}", args.join(" "));
    let output = Command::new(program).args(args).output().map_err(|source| {
        GadgetError::Command { command: command.clone(), message: source.to_string() }
    })?;
    if output.status.success() {
        Ok(())
    } else {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        Err(GadgetError::Command { command, message: format!("{} ({message})", output.status) })
    }
}

impl FfsMount {
    /// Creates `dir` if needed and mounts the FunctionFS `instance` there with the `mount`
    /// binary.
    pub fn mount(instance: &str, dir: &Path) -> Result<Self, GadgetError> {
        fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
        let dir_str = dir.to_str().ok_or_else(|| GadgetError::Io {
            action: "cannot use (not UTF-8)",
            path: dir.to_path_buf(),
            source: io::Error::from(io::ErrorKind::InvalidInput),
        })?;
        run("mount", &["-t", "functionfs", instance, dir_str])?;
        Ok(Self { dir: dir.to_path_buf(), mounted: true })
    }

    /// The mount point, to pass to [`super::FunctionFs::open`].
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unmounts. Close the [`super::FunctionFs`] first: open endpoint files keep it busy.
    pub fn unmount(mut self) -> Result<(), GadgetError> {
        self.mounted = false;
        run("umount", &[&self.dir.to_string_lossy()])
    }
}

impl Drop for FfsMount {
    fn drop(&mut self) {
        if self.mounted {
            // Best effort, as for `Gadget`.
            let _ = run("umount", &[&self.dir.to_string_lossy()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the target dir's tmp, removed at the end of the test.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("yhsm-sim-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn only_dummy_hcd_needs_reserved_endpoints() {
        assert_eq!(reserved_bulk_out_for("dummy_udc.1"), 3);
        assert_eq!(reserved_bulk_out_for("fe980000.usb"), 0);
        assert_eq!(GadgetConfig::new(1, "fe980000.usb").reservation_instance(), None);
    }

    #[test]
    fn serial_string_is_ten_decimal_digits() {
        assert_eq!(serial_string(12345), "0000012345");
        assert_eq!(serial_string(u32::MAX), "4294967295");
    }

    #[test]
    fn chooses_the_only_udc_or_the_requested_one() {
        let tmp = TempDir::new("udc");
        assert!(matches!(choose_udc(&tmp.0, None), Err(GadgetError::NoUdc)));
        fs::create_dir(tmp.0.join("dummy_udc.0")).unwrap();
        assert_eq!(choose_udc(&tmp.0, None).unwrap(), "dummy_udc.0");
        fs::create_dir(tmp.0.join("dummy_udc.1")).unwrap();
        assert_eq!(choose_udc(&tmp.0, Some("dummy_udc.1")).unwrap(), "dummy_udc.1");
    }

    #[test]
    fn rejects_ambiguous_or_unknown_udc() {
        let tmp = TempDir::new("udc2");
        fs::create_dir(tmp.0.join("b")).unwrap();
        fs::create_dir(tmp.0.join("a")).unwrap();
        match choose_udc(&tmp.0, None) {
            Err(GadgetError::SeveralUdcs { available }) => assert_eq!(available, ["a", "b"]),
            other => panic!("{other:?}"),
        }
        match choose_udc(&tmp.0, Some("c")) {
            Err(e @ GadgetError::UdcNotFound { .. }) => {
                assert!(e.to_string().contains("a, b"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_bad_gadget_names_and_missing_configfs() {
        let tmp = TempDir::new("cfg");
        let mut config = GadgetConfig { configfs: tmp.0.clone(), ..GadgetConfig::new(7, "x") };
        assert!(matches!(Gadget::create(&config), Err(GadgetError::NoConfigfs { .. })));
        config.name = "../x".into();
        assert!(matches!(Gadget::create(&config), Err(GadgetError::InvalidName { .. })));
    }

    /// On a plain directory (not configfs) the tree and attribute values can be checked:
    /// attribute files, which configfs would provide, are created by the writes.
    #[test]
    fn creates_the_gadget_tree_with_the_real_ids_and_strings() {
        let tmp = TempDir::new("tree");
        fs::create_dir(tmp.0.join("usb_gadget")).unwrap();
        let config =
            GadgetConfig { configfs: tmp.0.clone(), ..GadgetConfig::new(42, "dummy_udc.0") };
        assert_eq!(config.reserved_bulk_out, 3);
        // configfs makes these sub-directories with the gadget; a plain directory does not.
        let gadget_dir = tmp.0.join("usb_gadget/yhsm42");
        let premade = ["strings", "configs", "functions"];
        fs::create_dir(&gadget_dir).unwrap();
        for sub in premade {
            fs::create_dir(gadget_dir.join(sub)).unwrap();
        }
        assert!(matches!(Gadget::create(&config), Err(GadgetError::Exists { .. })));
        let gadget = Gadget {
            dir: gadget_dir,
            name: config.name.clone(),
            reservation: config.reservation_instance(),
            removed: true,
        };
        gadget.populate(config.serial).unwrap();
        let read = |p: &str| fs::read_to_string(gadget.dir().join(p)).unwrap();
        assert_eq!(read("idVendor"), "0x1050");
        assert_eq!(read("idProduct"), "0x0030");
        assert_eq!(read("strings/0x409/manufacturer"), "Yubico");
        assert_eq!(read("strings/0x409/product"), "YubiHSM");
        assert_eq!(read("strings/0x409/serialnumber"), "0000000042");
        for instance in ["yhsm42", "yhsm42_reserve"] {
            let link = fs::read_link(gadget.dir().join("configs/c.1/ffs.".to_owned() + instance));
            assert_eq!(link.unwrap(), gadget.dir().join("functions/ffs.".to_owned() + instance));
        }
        assert_eq!(gadget.function_instance(), "yhsm42");
        assert_eq!(gadget.reservation_instance(), Some("yhsm42_reserve"));
        assert_eq!(gadget.function_dir_names(), ["ffs.yhsm42_reserve", "ffs.yhsm42"]);
    }
}
