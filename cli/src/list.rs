//! `yhsm list`: the object info of every object the authentication key can see
//! (docs/PROTOCOL.md §7.3: LIST_OBJECTS, then GET_OBJECT_INFO for each).

use yhsm_proto::object::{ObjectInfo, ObjectType};
use yhsm_transport::Client;

use crate::device::command_error;
use crate::error::Result;
use crate::util::json::Value;
use crate::util::text::{self, Fields};

/// Every visible object's info, by id then type.
pub fn list_objects(client: &mut Client) -> Result<Vec<ObjectInfo>> {
    let mut entries = client
        .list_objects(&[])
        .map_err(|e| command_error("cannot list the objects on the device", e))?;
    entries.sort_by_key(|e| (e.id, e.object_type));
    entries
        .iter()
        .map(|e| {
            client.get_object_info(e.id, e.object_type).map_err(|err| {
                command_error(
                    format!("cannot read the object info of 0x{:04x} {}", e.id, e.object_type),
                    err,
                )
            })
        })
        .collect()
}

/// Whether objects of this type carry delegated capabilities.
pub fn has_delegated(object_type: ObjectType) -> bool {
    matches!(
        object_type,
        ObjectType::AUTHENTICATION_KEY | ObjectType::WRAP_KEY | ObjectType::PUBLIC_WRAP_KEY
    )
}

/// One block per object (`0x0001 authentication-key` and its fields), then a count.
pub fn render_human(objects: &[ObjectInfo]) -> String {
    let mut out = String::new();
    for o in objects {
        let mut f = Fields::new();
        f.add("algorithm", o.algorithm.to_string())
            .add("label", text::quoted(&o.label.to_string_lossy()))
            .add("domains", text::domain_list(o.domains))
            .add("capabilities", o.capabilities.to_string());
        if has_delegated(o.object_type) {
            f.add("delegated", o.delegated_capabilities.to_string());
        }
        f.add("sequence", o.sequence.to_string())
            .add("origin", o.origin.to_string())
            .add("length", o.length.to_string());
        out.push_str(&format!("0x{:04x} {}:\n{}\n", o.id, o.object_type, f.render()));
    }
    out.push_str(&match objects.len() {
        1 => "1 object\n".to_owned(),
        n => format!("{n} objects\n"),
    });
    out
}

/// One JSON object per object, with the keys `inspect --json` uses for the same fields:
/// `id`, `type`, `algorithm`, `label`, `domains` (the bit mask), `capabilities` (0x and
/// 16 hex digits), `delegated_capabilities` (likewise, null for types that have none),
/// `sequence`, `origin` (the byte), `length`.
pub fn object_json(o: &ObjectInfo) -> Value {
    Value::Object(vec![
        ("id", Value::Number(u64::from(o.id))),
        ("type", Value::string(o.object_type.to_string())),
        ("algorithm", Value::string(o.algorithm.to_string())),
        ("label", Value::string(o.label.to_string_lossy())),
        ("domains", Value::Number(u64::from(o.domains.0))),
        ("capabilities", Value::string(text::capabilities_hex(o.capabilities))),
        (
            "delegated_capabilities",
            Value::string_or_null(
                has_delegated(o.object_type)
                    .then(|| text::capabilities_hex(o.delegated_capabilities)),
            ),
        ),
        ("sequence", Value::Number(u64::from(o.sequence))),
        ("origin", Value::Number(u64::from(o.origin.0))),
        ("length", Value::Number(u64::from(o.length))),
    ])
}

/// The JSON array of `list --json`.
pub fn to_json(objects: &[ObjectInfo]) -> Value {
    Value::Array(objects.iter().map(object_json).collect())
}
