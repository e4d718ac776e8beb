use super::*;

#[test]
fn a_greeting_lists_the_offered_methods() {
    let greeting = assert_partial_until_end(&[5, 2, 0x00, 0x02], parse_greeting);
    assert_eq!(
        greeting,
        Greeting {
            methods: vec![0x00, 0x02]
        }
    );
    let empty = assert_partial_until_end(&[5, 0], parse_greeting);
    assert_eq!(select_method(&empty, false), Method::NoAcceptable);
}

#[test]
fn a_greeting_of_another_version_is_refused_at_the_first_byte() {
    assert_eq!(parse_greeting(&[4]), Err(SocksError::BadVersion(4)));
    assert_eq!(
        parse_greeting(b"CONNECT"),
        Err(SocksError::BadVersion(b'C'))
    );
}

#[test]
fn method_selection_prefers_no_auth_unless_a_password_is_required() {
    let both = Greeting {
        methods: vec![0x02, 0x00],
    };
    let no_auth = Greeting {
        methods: vec![0x00],
    };
    let user_pass = Greeting {
        methods: vec![0x02],
    };
    let gssapi = Greeting {
        methods: vec![0x01, 0x80],
    };
    assert_eq!(select_method(&both, false), Method::NoAuth);
    assert_eq!(select_method(&both, true), Method::UserPass);
    assert_eq!(select_method(&no_auth, true), Method::NoAcceptable);
    assert_eq!(select_method(&user_pass, false), Method::UserPass);
    assert_eq!(select_method(&gssapi, false), Method::NoAcceptable);
    assert_eq!(encode_method_selection(Method::NoAuth), [5, 0x00]);
    assert_eq!(encode_method_selection(Method::UserPass), [5, 0x02]);
    assert_eq!(encode_method_selection(Method::NoAcceptable), [5, 0xFF]);
}

#[test]
fn greetings_round_trip() {
    let greeting = Greeting {
        methods: vec![0, 1, 2],
    };
    let bytes = encode_greeting(&greeting).expect("encodable");
    assert_eq!(assert_partial_until_end(&bytes, parse_greeting), greeting);
    assert!(encode_greeting(&Greeting {
        methods: vec![0; 256]
    })
    .is_err());
}

#[test]
fn rfc1929_credentials_are_parsed() {
    let bytes = [&[1, 5][..], b"alice", &[6], b"s3cr3t"].concat();
    let credentials = assert_partial_until_end(&bytes, parse_user_pass);
    assert_eq!(credentials.username, "alice");
    assert_eq!(credentials.password, "s3cr3t");
    assert!(!format!("{credentials:?}").contains("s3cr3t"));
    let empty = assert_partial_until_end(&[1, 0, 0], parse_user_pass);
    assert_eq!((empty.username.as_str(), empty.password.as_str()), ("", ""));
}

#[test]
fn credentials_round_trip() {
    let credentials = UserPass {
        username: "ü".into(),
        password: "p:w".into(),
    };
    let bytes = encode_user_pass(&credentials).expect("encodable");
    assert_eq!(
        assert_partial_until_end(&bytes, parse_user_pass),
        credentials
    );
    let too_long = UserPass {
        username: "a".repeat(256),
        password: String::new(),
    };
    assert!(encode_user_pass(&too_long).is_err());
}

#[test]
fn bad_sub_negotiation_is_refused() {
    assert_eq!(
        parse_user_pass(&[5, 1, b'a', 1, b'b']),
        Err(SocksError::BadAuthVersion(5))
    );
    assert_eq!(
        parse_user_pass(&[1, 1, 0xff, 0]),
        Err(SocksError::BadCredentialsEncoding)
    );
    assert_eq!(
        parse_user_pass(&[1, 0, 1, 0xc3]),
        Err(SocksError::BadCredentialsEncoding)
    );
}

#[test]
fn auth_status_is_zero_on_success() {
    assert_eq!(encode_auth_status(true), [1, 0]);
    assert_eq!(encode_auth_status(false), [1, 1]);
}
