//! Identity JWTs checked by an independent JOSE implementation: Python `pyjwt` with
//! `cryptography` (installed by `scripts/setup`), against a published JWKS.

use std::process::Command;

const VERIFY: &str = r#"
import json, sys, jwt
jwks, token, aud = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
kid = jwt.get_unverified_header(token)["kid"]
key = next(k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == kid)
claims = jwt.decode(token, key.key, algorithms=[key.algorithm_name], audience=aud, issuer=aud,
                    options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})
print(json.dumps({"alg": key.algorithm_name, "claims": claims}))
"#;

/// Verifies `jwt` against `jwks` with `aud` = `iss` = `audience`: `Ok({alg, claims})` when it
/// verifies, `Err(pyjwt's message)` when not.
pub fn pyjwt_verify(jwks: &str, jwt: &str, audience: &str) -> Result<serde_json::Value, String> {
    let output = Command::new("python3")
        .args(["-c", VERIFY, jwks, jwt, audience])
        .output()
        .expect("python3 runs (scripts/setup installs pyjwt and cryptography)");
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).unwrap())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !stderr.contains("No module named"),
            "pyjwt is missing; run scripts/setup: {stderr}"
        );
        Err(stderr)
    }
}

/// The request the upstream received for `path` and the verified claims of the identity JWT
/// it carried (`{alg, claims}`, checked against `jwks` for `audience`); panics when either is
/// missing or the JWT does not verify.
pub fn forwarded_identity(
    received: Vec<crate::upstream::Received>,
    path: &str,
    jwks: &str,
    audience: &str,
) -> (crate::upstream::Received, serde_json::Value) {
    let forwarded = received
        .into_iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("the upstream got no request for {path}"));
    let jwt = forwarded
        .header("x-portcullis-jwt-assertion")
        .expect("an identity JWT");
    let verified = pyjwt_verify(jwks, jwt, audience).expect("the JWT verifies");
    (forwarded, verified)
}
