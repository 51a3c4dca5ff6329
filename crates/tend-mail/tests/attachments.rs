//! Attachments keep the sender's bytes: transfer encoding undone, charset untouched.

use tend_mail::parse;

#[test]
fn text_attachments_keep_their_bytes() {
    let csv_latin1: &[u8] = b"name;city\r\nM\xfcller;K\xf6ln\r\n";
    let mut raw = b"From: a@example.com\r\nTo: support@shop.example\r\nSubject: csv\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThree files.\r\n\
--b\r\nContent-Type: text/csv; charset=iso-8859-1\r\nContent-Disposition: attachment; filename=\"a.csv\"\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n"
        .to_vec();
    raw.extend_from_slice(csv_latin1);
    raw.extend_from_slice(
        b"\r\n--b\r\nContent-Type: text/csv; charset=iso-8859-1\r\nContent-Disposition: attachment; filename=\"b.csv\"\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nname;city\r\nM=FCller;K=F6ln\r\n\
\r\n--b\r\nContent-Type: text/csv; charset=iso-8859-1\r\nContent-Disposition: attachment; filename=\"c.csv\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nbmFtZTtjaXR5DQpN/GxsZXI7S/Zsbg0K\r\n--b--\r\n",
    );
    let mail = parse(&raw).unwrap();
    assert_eq!(mail.body_text, "Three files.");
    let names: Vec<_> = mail
        .attachments
        .iter()
        .map(|a| a.filename.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["a.csv", "b.csv", "c.csv"]);
    for a in &mail.attachments {
        assert_eq!(
            a.data,
            csv_latin1,
            "{}: {:?}",
            a.filename.as_deref().unwrap(),
            String::from_utf8_lossy(&a.data)
        );
        assert_eq!(a.content_type, "text/csv");
        assert!(!a.inline);
    }
}
