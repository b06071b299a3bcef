//! `yhsm info`: the device info (docs/PROTOCOL.md §7.2 GET_DEVICE_INFO, its part-number page on
//! firmware >= 2.4) and the storage use (GET_STORAGE_INFO, inside the session).

use yhsm_proto::command::{DeviceInfo, StorageInfo};
use yhsm_transport::Client;

use crate::device::command_error;
use crate::error::Result;
use crate::util::json::Value;
use crate::util::text::Fields;

/// What `yhsm info` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// What the connector reaches ("USB device serial 12345678", ...).
    pub connector: String,
    pub device: DeviceInfo,
    /// Firmware >= 2.4 only.
    pub part_number: Option<String>,
    pub storage: StorageInfo,
}

/// Reads the device info again (the log use changed with the session), the part number
/// when the firmware has one, and the storage info.
pub fn read(client: &mut Client) -> Result<Info> {
    let device = client
        .refresh_device_info()
        .map_err(|e| command_error("cannot read the device info", e))?
        .clone();
    let part_number = if device.has_part_number() {
        Some(client.part_number().map_err(|e| command_error("cannot read the part number", e))?)
    } else {
        None
    };
    let storage =
        client.storage_info().map_err(|e| command_error("cannot read the storage info", e))?;
    Ok(Info { connector: client.describe(), device, part_number, storage })
}

/// The widest line of the algorithm list before it wraps.
const LINE_WIDTH: usize = 88;

/// `name: value` lines; the algorithms wrap under their column.
pub fn render_human(info: &Info) -> String {
    let (major, minor, patch) = info.device.version;
    let s = &info.storage;
    let mut f = Fields::flat();
    f.add("connector", info.connector.clone())
        .add("serial", info.device.serial.to_string())
        .add("firmware", format!("{major}.{minor}.{patch}"));
    if let Some(pn) = &info.part_number {
        f.add("part number", crate::util::text::quoted(pn));
    }
    f.add("log", format!("{} of {} entries used", info.device.log_used, info.device.log_total))
        .add("storage records", format!("{} of {} free", s.free_records, s.total_records))
        .add(
            "storage pages",
            format!("{} of {} free ({} bytes each)", s.free_pages, s.total_pages, s.page_size),
        )
        .add("algorithms", String::new());
    let column = f.value_column();
    let names: Vec<String> = info.device.algorithms.iter().map(ToString::to_string).collect();
    f.set_last(wrap_list(&names, column, LINE_WIDTH));
    f.render()
}

/// `items` joined by `, `, broken into lines of at most `width` characters (one item per
/// line at least), continuation lines indented by `indent` spaces.
fn wrap_list(items: &[String], indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = indent;
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() { format!("{item},") } else { item.clone() };
        if i > 0 {
            if line_len + 1 + piece.len() > width {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                line_len = indent;
            } else {
                out.push(' ');
                line_len += 1;
            }
        }
        out.push_str(&piece);
        line_len += piece.len();
    }
    out
}

/// The JSON object of `info --json`: `connector`, `serial`, `firmware` ("2.4.0"),
/// `part_number` (null before 2.4), `log_used`, `log_total`, `algorithms` (names),
/// `storage` with `total_records`, `free_records`, `total_pages`, `free_pages`,
/// `page_size`.
pub fn to_json(info: &Info) -> Value {
    let (major, minor, patch) = info.device.version;
    let s = &info.storage;
    Value::Object(vec![
        ("connector", Value::string(info.connector.as_str())),
        ("serial", Value::Number(u64::from(info.device.serial))),
        ("firmware", Value::string(format!("{major}.{minor}.{patch}"))),
        ("part_number", Value::string_or_null(info.part_number.as_deref())),
        ("log_used", Value::Number(u64::from(info.device.log_used))),
        ("log_total", Value::Number(u64::from(info.device.log_total))),
        (
            "algorithms",
            Value::Array(
                info.device.algorithms.iter().map(|a| Value::string(a.to_string())).collect(),
            ),
        ),
        (
            "storage",
            Value::Object(vec![
                ("total_records", Value::Number(u64::from(s.total_records))),
                ("free_records", Value::Number(u64::from(s.free_records))),
                ("total_pages", Value::Number(u64::from(s.total_pages))),
                ("free_pages", Value::Number(u64::from(s.free_pages))),
                ("page_size", Value::Number(u64::from(s.page_size))),
            ]),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_lists_under_their_column() {
        let items: Vec<String> = ["aaaa", "bbbb", "cccc", "dddd"].map(String::from).to_vec();
        assert_eq!(wrap_list(&items, 2, 14), "aaaa, bbbb,\n  cccc, dddd");
        assert_eq!(wrap_list(&items[..1], 2, 14), "aaaa");
        assert_eq!(wrap_list(&[], 2, 14), "");
        // An item longer than the line still gets a line of its own.
        let long = vec!["x".repeat(20), "y".to_owned()];
        assert_eq!(wrap_list(&long, 2, 10), format!("{},\n  y", "x".repeat(20)));
    }
}
