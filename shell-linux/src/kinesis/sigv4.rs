//! AWS Signature Version 4, for requests signed in the `Authorization` header.
//!
//! The steps are AWS's: a *canonical request* (method, path, query, the signed headers
//! lower-cased and sorted, the hex SHA-256 of the payload), a *string to sign* (the
//! algorithm, the `X-Amz-Date` time, the credential scope `DATE/REGION/SERVICE/aws4_request`
//! and the hex SHA-256 of the canonical request), a *signing key* derived from the secret
//! by a chain of HMAC-SHA256 over the date, region, service and `aws4_request`, and the
//! hex HMAC of the string to sign under that key. The unit tests check every step against
//! the values AWS publishes for its test suite (`get-vanilla`, `post-vanilla`,
//! `post-x-www-form-urlencoded`), so a mistake anywhere fails them.
//!
//! Only what the Kinesis destination needs is here: the caller gives the canonical path
//! and query (Kinesis always posts to `/` with no query) and every header it wants
//! signed, `host` and `x-amz-date` included.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The algorithm name in the string to sign and the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// AWS credentials. `Debug` shows the access key id only: the secret and the session
/// token never reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (`AKIA…`, `ASIA…`): an identifier, not a secret.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials, sent as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What is signed of one request.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The canonical (already URI-encoded) path, `/` at least.
    pub path: &'a str,
    /// The canonical query string (names sorted, encoded), or empty.
    pub query: &'a str,
    /// The headers to sign, as sent; `host` and `x-amz-date` must be among them.
    pub headers: &'a [(&'a str, &'a str)],
    /// The request body.
    pub payload: &'a [u8],
}

/// Where a signature is valid: the day of `X-Amz-Date`, the region and the service.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    /// `YYYYMMDDTHHMMSSZ`, the value of the `X-Amz-Date` header.
    pub amz_date: &'a str,
    /// The AWS region, e.g. `us-east-1`.
    pub region: &'a str,
    /// The service's signing name, e.g. `kinesis`.
    pub service: &'a str,
}

impl Scope<'_> {
    /// `YYYYMMDD`, the first 8 characters of the date.
    fn day(&self) -> &str {
        self.amz_date.get(..8).unwrap_or(self.amz_date)
    }

    /// `YYYYMMDD/REGION/SERVICE/aws4_request`.
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.day(),
            self.region,
            self.service
        )
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length (longer ones are hashed first), so this never fails;
    // an empty MAC is only a fallback that keeps the function total.
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

/// The signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service),
/// "aws4_request")`.
pub fn signing_key(secret: &str, scope: &Scope<'_>) -> [u8; 32] {
    let mut k_secret = Vec::with_capacity(4 + secret.len());
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = hmac_sha256(&k_secret, scope.day().as_bytes());
    let k_region = hmac_sha256(&k_date, scope.region.as_bytes());
    let k_service = hmac_sha256(&k_region, scope.service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// Header names lower-cased, values trimmed with inner runs of spaces collapsed, sorted
/// by name.
fn canonical_headers(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            (name.trim().to_ascii_lowercase(), value)
        })
        .collect();
    out.sort();
    out
}

/// The `SignedHeaders` list: the names, lower-cased, sorted, joined by `;`.
pub fn signed_headers(headers: &[(&str, &str)]) -> String {
    canonical_headers(headers)
        .into_iter()
        .map(|(name, _)| name)
        .collect::<Vec<_>>()
        .join(";")
}

/// The canonical request.
pub fn canonical_request(request: &Request<'_>) -> String {
    let headers = canonical_headers(request.headers);
    let mut out = String::new();
    out.push_str(request.method);
    out.push('\n');
    out.push_str(request.path);
    out.push('\n');
    out.push_str(request.query);
    out.push('\n');
    for (name, value) in &headers {
        out.push_str(name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers(request.headers));
    out.push('\n');
    out.push_str(&sha256_hex(request.payload));
    out
}

/// The string to sign for a canonical request.
pub fn string_to_sign(scope: &Scope<'_>, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        scope.amz_date,
        scope.credential_scope(),
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The hex signature of a request.
pub fn signature(secret: &str, scope: &Scope<'_>, request: &Request<'_>) -> String {
    let to_sign = string_to_sign(scope, &canonical_request(request));
    hex(&hmac_sha256(
        &signing_key(secret, scope),
        to_sign.as_bytes(),
    ))
}

/// The value of the `Authorization` header of a request.
pub fn authorization(
    credentials: &Credentials,
    scope: &Scope<'_>,
    request: &Request<'_>,
) -> String {
    format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
        credentials.access_key_id,
        scope.credential_scope(),
        signed_headers(request.headers),
        signature(&credentials.secret_access_key, scope, request)
    )
}

/// `YYYYMMDDTHHMMSSZ` for a time (UTC); times before 1970 give the epoch.
pub fn amz_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01), after Howard
/// Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // AWS's SigV4 test suite: its credentials, scope and time.
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const SCOPE: Scope<'static> = Scope {
        amz_date: "20150830T123600Z",
        region: "us-east-1",
        service: "service",
    };
    const BASE: [(&str, &str); 2] = [
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", "20150830T123600Z"),
    ];

    fn credentials() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: SECRET.to_owned(),
            session_token: None,
        }
    }

    #[test]
    fn the_signing_key_is_the_published_one() {
        assert_eq!(
            hex(&signing_key(SECRET, &SCOPE)),
            "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75"
        );
    }

    #[test]
    fn get_vanilla() {
        let request = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &BASE,
            payload: b"",
        };
        let canonical = canonical_request(&request);
        assert_eq!(
            canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             host;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            string_to_sign(&SCOPE, &canonical),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            authorization(&credentials(), &SCOPE, &request),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn post_vanilla() {
        let request = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &BASE,
            payload: b"",
        };
        assert_eq!(
            signature(SECRET, &SCOPE, &request),
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        // Header names in any case and order, values with extra spaces: the canonical
        // form is the same.
        let headers = [
            ("X-Amz-Date", "20150830T123600Z"),
            ("Content-Type", " application/x-www-form-urlencoded "),
            ("host", "example.amazonaws.com"),
        ];
        let request = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            payload: b"Param1=value1",
        };
        assert_eq!(
            sha256_hex(b"Param1=value1"),
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
        assert_eq!(
            authorization(&credentials(), &SCOPE, &request),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
        // One byte of the payload changed: another signature.
        let tampered = Request {
            payload: b"Param1=value2",
            ..request
        };
        assert_ne!(
            signature(SECRET, &SCOPE, &tampered),
            "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
    }

    #[test]
    fn dates() {
        let at = |secs| amz_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(1_440_938_160), "20150830T123600Z");
        assert_eq!(at(0), "19700101T000000Z");
        assert_eq!(at(951_782_400), "20000229T000000Z");
        assert_eq!(at(951_868_799), "20000229T235959Z");
        assert_eq!(at(4_107_542_400), "21000301T000000Z");
        assert_eq!(at(1_704_067_199), "20231231T235959Z");
        assert_eq!(
            amz_date(UNIX_EPOCH - Duration::from_secs(5)),
            "19700101T000000Z"
        );
        // Every day for 500 years follows the day before by the Gregorian calendar.
        let (mut y, mut m, mut d) = (1970, 1, 1);
        for day in 0..500 * 366 {
            assert_eq!(civil_from_days(day), (y, m, d), "day {day}");
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            d += 1;
            if d > len[usize::try_from(m - 1).unwrap()] {
                (d, m) = (1, m + 1);
                if m > 12 {
                    (m, y) = (1, y + 1);
                }
            }
        }
    }

    #[test]
    fn debug_hides_the_secrets() {
        let mut c = credentials();
        c.session_token = Some("TOKEN-SECRET".to_owned());
        let text = format!("{c:?}");
        assert!(text.contains("AKIDEXAMPLE"), "{text}");
        assert!(
            !text.contains(SECRET) && !text.contains("TOKEN-SECRET"),
            "{text}"
        );
    }
}
