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
