//! Prints what the intake makes of a mail: `cargo run -p tend-mail --example dump_mail -- FILE.eml`.

fn main() {
    let path = std::env::args().nth(1).expect("usage: dump_mail FILE.eml");
    let raw = std::fs::read(&path).expect("readable file");
    match tend_mail::parse(&raw) {
        Ok(mail) => {
            let noise = tend_mail::classify(&mail);
            let mut shown = mail.clone();
            for a in &mut shown.attachments {
                a.data.truncate(32);
            }
            println!("{shown:#?}\n{noise:#?}");
            println!("forwarded: {:?}", tend_mail::forwarded_from(&mail));
        }
        Err(e) => println!("{e}"),
    }
}
