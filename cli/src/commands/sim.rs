//! `yhsm sim serve` and `yhsm sim usb-gadget`: the built-in simulator until stopped.

use yhsm::Result;
use yhsm::error::EXIT_OK;

#[cfg(all(feature = "usb-gadget", target_os = "linux"))]
use crate::args::SimGadgetArgs;
use crate::args::SimServeArgs;

pub fn serve(a: SimServeArgs) -> Result<u8> {
    let options = yhsm::sim::ServeOptions { listen: a.listen, state: a.state, serial: a.serial };
    yhsm::sim::serve(&options).map(|()| EXIT_OK)
}

#[cfg(all(feature = "usb-gadget", target_os = "linux"))]
pub fn usb_gadget(a: SimGadgetArgs) -> Result<u8> {
    let options = yhsm::sim::GadgetOptions {
        serial: a.serial,
        udc: a.udc,
        state: a.state,
        delay: std::time::Duration::from_millis(a.delay_ms),
    };
    yhsm::sim::usb_gadget(&options, &mut std::io::stdout()).map(|()| EXIT_OK)
}
