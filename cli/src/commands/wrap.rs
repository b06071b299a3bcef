//! `yhsm wrap`: a `.yhw` made offline from a key file, written to `--out` (or standard
//! output with `--out -`, raw bytes only when it is not a terminal).

use yhsm::error::EXIT_OK;
use yhsm::util::{files, text};
use yhsm::{Error, Result, wrap, wrapkey};
use yhsm_proto::wrap::Encoding;

use super::terminal::{TtyPrompter, print, print_bytes, stdout_is_terminal};
use crate::args::WrapArgs;

pub fn run(a: &WrapArgs) -> Result<u8> {
    wrap::check_spec(&a.spec)?;
    if a.out.as_os_str() == "-" && a.encoding == Encoding::Binary && stdout_is_terminal() {
        return Err(Error::usage("--encoding binary writes raw bytes, not to a terminal")
            .with_hint("redirect standard output to a file, or use --out FILE"));
    }
    let input = files::read_file(&a.input, "input file")?;
    let object = wrap::build_object(&a.spec, &input, &a.input.display().to_string(), a.in_hex)?;
    let key = wrapkey::load(&a.key, &mut TtyPrompter)?.key;
    let bytes = wrap::wrap_to_file(&key, &object, a.encoding)?;
    if a.out.as_os_str() == "-" {
        return print_bytes(&bytes).map(|()| EXIT_OK);
    }
    files::write_file(&a.out, &bytes, a.force, "output file")?;
    print(&format!(
        "Wrote {} ({}): {} 0x{:04x} ({}), wrapped with {}\n",
        text::printable(&a.out.display().to_string()),
        a.encoding,
        object.header.object_type,
        object.header.id,
        object.header.algorithm,
        key.algorithm(),
    ))
    .map(|()| EXIT_OK)
}
