//! `yhsm wrap`: a `.yhw` made offline from a key file, written to `--out` (or standard
//! output with `--out -`).

use yhsm::error::EXIT_OK;
use yhsm::util::{files, text};
use yhsm::{Result, wrap, wrapkey};

use super::terminal::print;
use crate::args::WrapArgs;

pub fn run(a: &WrapArgs) -> Result<u8> {
    wrap::check_spec(&a.spec)?;
    let input = files::read_file(&a.input, "input file")?;
    let object = wrap::build_object(&a.spec, &input, &a.input.display().to_string(), a.in_hex)?;
    let key = wrapkey::load(&a.key)?.key;
    let text = wrap::wrap_to_text(&key, &object)?;
    if a.out.as_os_str() == "-" {
        return print(&text).map(|()| EXIT_OK);
    }
    files::write_file(&a.out, text.as_bytes(), a.force, "output file")?;
    print(&format!(
        "Wrote {}: {} 0x{:04x} ({}), wrapped with {}\n",
        text::printable(&a.out.display().to_string()),
        object.header.object_type,
        object.header.id,
        object.header.algorithm,
        key.algorithm(),
    ))
    .map(|()| EXIT_OK)
}
