//! `GET <base>/connector/status` (docs/PROTOCOL.md §1.2): `key=value` lines such as
//! `status=OK`, `serial=*`, `version=3.0.4`, `pid=1234`, `address=localhost`, `port=12345`.

/// A parsed status answer. Only `status` is required; every line is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectorStatus {
    fields: Vec<(String, String)>,
}

impl ConnectorStatus {
    /// Parses the body. Lines end with `\n` (a `\r` before it is dropped); blank lines
    /// are skipped; every other line must be `key=value` with a non-empty key, each key
    /// at most once, and a `status` line must be present.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(body).map_err(|_| "the answer is not text".to_owned())?;
        let mut fields: Vec<(String, String)> = Vec::new();
        for (n, line) in text.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once('=').filter(|(k, _)| !k.is_empty()) else {
                let shown: String = line.chars().filter(|c| !c.is_control()).take(60).collect();
                return Err(format!("line {} is not key=value: `{shown}`", n + 1));
            };
            if fields.iter().any(|(k, _)| k == key) {
                return Err(format!("`{key}` appears more than once"));
            }
            fields.push((key.to_owned(), value.to_owned()));
        }
        if !fields.iter().any(|(k, _)| k == "status") {
            return Err("no status= line (is this a yubihsm-connector?)".to_owned());
        }
        Ok(Self { fields })
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The `status` value: `OK`, or `NO_DEVICE` when the connector sees no device.
    pub fn status(&self) -> &str {
        self.get("status").unwrap_or_default()
    }

    /// Whether the connector has a device. Like libyubihsm, only exactly `status=OK`.
    pub fn has_device(&self) -> bool {
        self.status() == "OK"
    }

    /// The serial the connector is restricted to; `None` for `*` (any device) or absent.
    pub fn serial(&self) -> Option<&str> {
        self.get("serial").filter(|s| *s != "*")
    }

    /// The connector's version string.
    pub fn version(&self) -> Option<&str> {
        self.get("version")
    }

    /// Every `key=value` line, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_connector_with_a_device() {
        let s = ConnectorStatus::parse(
            b"status=OK\nserial=*\nversion=3.0.4\npid=4321\naddress=localhost\nport=12345\n",
        )
        .unwrap();
        assert!(s.has_device());
        assert_eq!(s.serial(), None);
        assert_eq!(s.version(), Some("3.0.4"));
        assert_eq!(s.get("port"), Some("12345"));
        assert_eq!(s.fields().count(), 6);
    }

    #[test]
    fn parses_no_device_and_crlf_lines() {
        let s = ConnectorStatus::parse(b"status=NO_DEVICE\r\nserial=0012345678\r\n\r\n").unwrap();
        assert!(!s.has_device());
        assert_eq!(s.status(), "NO_DEVICE");
        assert_eq!(s.serial(), Some("0012345678"));
    }

    #[test]
    fn requires_exactly_ok() {
        for body in [&b"status=ok\n"[..], b"status=OK \n", b"status= OK\n", b"status=\n"] {
            assert!(!ConnectorStatus::parse(body).unwrap().has_device(), "{body:?}");
        }
    }

    #[test]
    fn rejects_garbage_and_missing_lines() {
        let err = |b: &[u8]| ConnectorStatus::parse(b).unwrap_err();
        assert!(err(b"<html>Not Found</html>").contains("line 1 is not key=value"));
        assert!(err(b"status=OK\ngarbage\n").contains("line 2"));
        assert!(err(b"=OK\n").contains("not key=value"));
        assert!(err(b"serial=*\nversion=3.0.4\n").contains("no status= line"));
        assert!(err(b"").contains("no status= line"));
        assert!(err(b"status=OK\nstatus=NO_DEVICE\n").contains("more than once"));
        assert!(err(b"status=OK\n\xff\n").contains("not text"));
    }
}
