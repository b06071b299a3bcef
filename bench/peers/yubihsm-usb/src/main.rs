//! Opens a session through the `yubihsm` crate's USB connector, so that its USB-only build
//! is a program that uses it (nothing here is measured at run time).

fn main() {
    let connector = yubihsm::Connector::usb(&yubihsm::UsbConfig::default());
    let key = yubihsm::authentication::Key::from_slice(&[0; 32]).expect("32 bytes");
    let credentials = yubihsm::Credentials::new(1, key);
    match yubihsm::Client::open(connector, credentials, true) {
        Ok(_) => println!("connected"),
        Err(e) => println!("{e}"),
    }
}
