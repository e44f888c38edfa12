//! `portcullis dev`, the README's run command, from a user's point of view: a headless
//! Chromium opens the URL it prints, signs in at the built-in development identity provider
//! with an email typed into its form, and lands on the demo upstream, which shows that email.

use portcullis_testing::browser::{self, Step};
use portcullis_testing::process::Portcullis;

#[test]
fn a_newcomer_signs_in_through_the_dev_idp_and_sees_their_identity() {
    let mut dev = Portcullis::start_args(&["dev", "--address", "127.0.0.1:0"])
        .expect("portcullis dev starts");
    let url = dev
        .json_lines()
        .into_iter()
        .find_map(|l| l["url"].as_str().map(str::to_owned))
        .expect("dev mode prints the URL to open");
    assert!(url.starts_with("http://app.localhost:"), "{url}");

    let email = "newcomer@example.org";
    let journey = browser::run(
        &[
            Step::Goto(url.clone()),
            Step::WaitUrl("/authorize".into()),
            Step::Snapshot("idp".into()),
            Step::Fill("input[name=email]".into(), email.into()),
            Step::Fill("input[name=groups]".into(), "testers".into()),
            Step::Click("button[value=sign_in]".into()),
            Step::WaitUrl(url.clone()),
            Step::Snapshot("app".into()),
        ],
        "",
    )
    .expect("the browser journey completes");

    let idp = journey.snapshot("idp").unwrap();
    assert!(idp.url.starts_with("http://127.0.0.1:"), "{}", idp.url);
    let app = journey.snapshot("app").unwrap();
    assert_eq!(app.url, url);
    assert_eq!(app.status, Some(200));
    assert!(app.text.contains(email), "{}", app.text);
    assert!(app.text.contains("testers"), "{}", app.text);
    assert!(
        dev.json_lines().iter().any(|l| l["level"] == "WARN"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.contains("development identity provider"))),
        "dev mode says loudly that it runs a development provider"
    );
    dev.terminate().unwrap();
}
