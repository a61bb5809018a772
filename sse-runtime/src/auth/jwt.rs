//! Grants from a JSON Web Token (feature `jwt`): verified by
//! `jsonwebtoken`, never by hand, and read as Mercure reads its tokens:
//! the topics in `mercure.subscribe` and `mercure.publish`.

use std::fmt;
use std::future::Future;
use std::time::{Duration, UNIX_EPOCH};

use http::header::{AUTHORIZATION, COOKIE};
use http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{Authorize, Grants, Refusal};

/// Verifies a request's JWT and makes its [`Grants`] from its claims, as
/// Mercure does:
///
/// ```json
/// { "exp": 1767225600,
///   "mercure": { "subscribe": ["room:a", "feed:*"], "publish": ["room:a"] } }
/// ```
///
/// `mercure.subscribe` and `mercure.publish` list
/// [`TopicSelector`](super::TopicSelector)s (exact names, or a prefix and a
/// trailing `*`; `*` alone for every topic); either may be absent (nothing
/// allowed), and other claims are ignored. What
/// [`anonymous`](Self::anonymous) opens to everyone is open to every token
/// holder too.
///
/// **Verification** is `jsonwebtoken`'s, with one algorithm and its key:
///
/// * the signature must verify with the key, under the algorithm given
///   here and no other (the token's `alg` header does not choose: `none`,
///   or an HMAC token presented to an RSA key, is refused);
/// * `exp` is required and must be in the future; `nbf`, when present,
///   in the past; both within [`leeway`](Self::leeway) (60 s by default)
///   for clocks that differ;
/// * `aud` and `iss`, when [`audience`](Self::audience) and
///   [`issuer`](Self::issuer) are set, must name them (a token with an
///   `aud` claim is refused when no audience is set: it was meant for
///   someone else);
/// * the claims must have the shape above (a `subscribe` that is not a list
///   of strings is refused, not read as nothing).
///
/// Any of these failing is `401` ([`Refusal::InvalidCredentials`]) with
/// the reason in a few words. The grants end with the token: a stream
/// opened with them through [`Guarded`](super::Guarded) ends at `exp`
/// (plus the leeway, as long as the token is accepted).
///
/// **Where the token is**: the `Authorization: Bearer <token>` header,
/// always; and, when set, a query parameter ([`query`](Self::query)) and a
/// cookie ([`cookie`](Self::cookie)), for the browser's `EventSource`,
/// which cannot set headers. The first found, in that order, is the one
/// verified: a bad one is refused, never passed over for another. A
/// request without any is anonymous.
///
/// ```
/// use axum::Extension;
/// use sse_runtime::auth::jsonwebtoken::{Algorithm, DecodingKey};
/// use sse_runtime::auth::{Authorizer, Grants, JwtAuthorizer};
///
/// let key = DecodingKey::from_secret(b"a secret of at least thirty-two bytes").unwrap();
/// let jwt = JwtAuthorizer::new(key, Algorithm::HS256)?
///     .issuer("https://auth.example.com")
///     .query("access_token")
///     .anonymous(Grants::anonymous().allow_subscribe("room:public").allow_publish("room:public"));
/// let layer = Extension(Authorizer::new(jwt));
/// # let _ = layer;
/// # Ok::<(), sse_runtime::auth::JwtConfigError>(())
/// ```
#[derive(Clone)]
pub struct JwtAuthorizer {
    key: DecodingKey,
    validation: Validation,
    query: Option<String>,
    cookie: Option<String>,
    anonymous: Grants,
}

impl fmt::Debug for JwtAuthorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the key.
        f.debug_struct("JwtAuthorizer")
            .field("algorithm", &self.validation.algorithms)
            .field("query", &self.query)
            .field("cookie", &self.cookie)
            .field("anonymous", &self.anonymous)
            .finish_non_exhaustive()
    }
}

/// The longest [`JwtAuthorizer::leeway`], in seconds: a day.
const LONGEST_LEEWAY: u64 = 24 * 3600;

/// Why a [`JwtAuthorizer`] could not be made.
///
/// ```
/// use sse_runtime::auth::jsonwebtoken::{Algorithm, DecodingKey};
/// let key = DecodingKey::from_secret(b"a secret of at least thirty-two bytes").unwrap();
/// let error = sse_runtime::auth::JwtAuthorizer::new(key, Algorithm::RS256).unwrap_err();
/// assert!(error.to_string().contains("RS256"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfigError(String);

impl fmt::Display for JwtConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JwtConfigError {}

/// A key `jsonwebtoken` could not read, for `?` on `DecodingKey::from_*`.
///
/// ```
/// use sse_runtime::auth::jsonwebtoken::DecodingKey;
/// use sse_runtime::auth::JwtConfigError;
/// fn key(pem: &[u8]) -> Result<DecodingKey, JwtConfigError> {
///     Ok(DecodingKey::from_rsa_pem(pem)?)
/// }
/// assert!(key(b"not a key").is_err());
/// ```
impl From<jsonwebtoken::errors::Error> for JwtConfigError {
    fn from(error: jsonwebtoken::errors::Error) -> Self {
        JwtConfigError(format!("the key could not be read: {error}"))
    }
}

impl JwtAuthorizer {
    /// Verifies tokens signed with `algorithm` by `key`'s holder, and
    /// only those. Fails when the key is of another family than the
    /// algorithm (an HMAC secret for `RS256`), or when `jsonwebtoken` has
    /// no crypto backend (its `aws_lc_rs` feature turned on beside this
    /// crate's `rust_crypto`: choose one with
    /// `jsonwebtoken::crypto::CryptoProvider::install_default`).
    ///
    /// ```
    /// use sse_runtime::auth::jsonwebtoken::{Algorithm, DecodingKey};
    /// use sse_runtime::auth::JwtAuthorizer;
    /// let key = DecodingKey::from_secret(b"a secret of at least thirty-two bytes").unwrap();
    /// let jwt = JwtAuthorizer::new(key, Algorithm::HS256).unwrap();
    /// # let _ = jwt;
    /// ```
    pub fn new(key: DecodingKey, algorithm: Algorithm) -> Result<JwtAuthorizer, JwtConfigError> {
        if key.family() != algorithm.family() {
            return Err(JwtConfigError(format!(
                "the key is a {:?} key, and {algorithm:?} needs a {:?} key",
                key.family(),
                algorithm.family()
            )));
        }
        if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
            return Err(JwtConfigError(
                "jsonwebtoken has no crypto backend: both of its backends are on; \
                 install one with jsonwebtoken::crypto::CryptoProvider::install_default"
                    .into(),
            ));
        }
        let mut validation = Validation::new(algorithm);
        validation.validate_nbf = true;
        validation.validate_exp = true;
        Ok(JwtAuthorizer {
            key,
            validation,
            query: None,
            cookie: None,
            anonymous: Grants::anonymous(),
        })
    }

    /// Tokens must name `audience` in their `aud` claim.
    ///
    /// ```
    /// # use sse_runtime::auth::jsonwebtoken::{Algorithm, DecodingKey};
    /// # let key = DecodingKey::from_secret(b"a secret of at least thirty-two bytes").unwrap();
    /// let jwt = sse_runtime::auth::JwtAuthorizer::new(key, Algorithm::HS256).unwrap().audience("chat");
    /// # let _ = jwt;
    /// ```
    pub fn audience(mut self, audience: &str) -> JwtAuthorizer {
        self.validation.set_audience(&[audience]);
        self.validation.required_spec_claims.insert("aud".into());
        self
    }

    /// Tokens must name `issuer` in their `iss` claim.
    ///
    /// ```
    /// # use sse_runtime::auth::jsonwebtoken::{Algorithm, DecodingKey};
    /// # let key = DecodingKey::from_secret(b"a secret of at least thirty-two bytes").unwrap();
    /// let jwt = sse_runtime::auth::JwtAuthorizer::new(key, Algorithm::HS256).unwrap().issuer("https://auth.example.com");
    /// # let _ = jwt;
    /// ```
    pub fn issuer(mut self, issuer: &str) -> JwtAuthorizer {
        self.validation.set_issuer(&[issuer]);
        self.validation.required_spec_claims.insert("iss".into());
        self
    }

    /// How far `exp` and `nbf` may be off, for clocks that differ; whole
    /// seconds. Default 60 s; at most a day (longer is a day: clocks that
    /// far apart are a fault to fix, and `jsonwebtoken` subtracts the
    /// leeway from the time, which a longer one than the clock overflows).
    ///
    /// ```
    /// # use sse_runtime::auth::jsonwebtoken::{Algorithm, DecodingKey};
    /// # let key = DecodingKey::from_secret(b"a secret of at least thirty-two bytes").unwrap();
    /// let jwt = sse_runtime::auth::JwtAuthorizer::new(key, Algorithm::HS256)
    ///     .unwrap()
    ///     .leeway(std::time::Duration::from_secs(5));
    /// # let _ = jwt;
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> JwtAuthorizer {
        self.validation.leeway = leeway.as_secs().min(LONGEST_LEEWAY);
        self
    }

    /// Also looks for the token in the query parameter `name` (after the
    /// `Authorization` header), for the browser's `EventSource`, which
    /// cannot send headers.
    ///
    /// The trade-off: a URL is written where headers are not, in access
    /// logs, proxies' logs and the browser's history, so a token there
    /// lives on after its request. Keep such tokens short-lived and
    /// limited to reading (a `mercure.subscribe` claim only), or use a
    /// cookie, or a `fetch`-based client that sends the header.
    ///
    /// ```
    /// # use sse_runtime::auth::jsonwebtoken::{Algorithm, DecodingKey};
    /// # let key = DecodingKey::from_secret(b"a secret of at least thirty-two bytes").unwrap();
    /// let jwt = sse_runtime::auth::JwtAuthorizer::new(key, Algorithm::HS256).unwrap().query("access_token");
    /// # let _ = jwt;
    /// ```
    pub fn query(mut self, name: &str) -> JwtAuthorizer {
        self.query = Some(name.to_owned());
        self
    }

    /// Also looks for the token in the cookie `name` (after the header
    /// and the query parameter), which `EventSource` sends for its own
    /// origin (and with `withCredentials` for others). Set it `HttpOnly`,
    /// `Secure` and `SameSite=Strict`: a cookie goes with requests other
    /// sites make, so one that allows publishing must not go with theirs.
    ///
    /// ```
    /// # use sse_runtime::auth::jsonwebtoken::{Algorithm, DecodingKey};
    /// # let key = DecodingKey::from_secret(b"a secret of at least thirty-two bytes").unwrap();
    /// let jwt = sse_runtime::auth::JwtAuthorizer::new(key, Algorithm::HS256).unwrap().cookie("sseAuthorization");
    /// # let _ = jwt;
    /// ```
    pub fn cookie(mut self, name: &str) -> JwtAuthorizer {
        self.cookie = Some(name.to_owned());
        self
    }

    /// What a request without a token may do (nothing, by default); token
    /// holders may do it too.
    ///
    /// ```
    /// # use sse_runtime::auth::jsonwebtoken::{Algorithm, DecodingKey};
    /// # let key = DecodingKey::from_secret(b"a secret of at least thirty-two bytes").unwrap();
    /// use sse_runtime::auth::Grants;
    /// let jwt = sse_runtime::auth::JwtAuthorizer::new(key, Algorithm::HS256)
    ///     .unwrap()
    ///     .anonymous(Grants::anonymous().allow_subscribe("news"));
    /// # let _ = jwt;
    /// ```
    pub fn anonymous(mut self, grants: Grants) -> JwtAuthorizer {
        self.anonymous = Grants::anonymous().with_selectors_of(&grants);
        self
    }

    /// The grants `token` carries, or why it is refused.
    ///
    /// ```
    /// # use sse_runtime::auth::jsonwebtoken::{Algorithm, DecodingKey};
    /// # let key = DecodingKey::from_secret(b"a secret of at least thirty-two bytes").unwrap();
    /// let jwt = sse_runtime::auth::JwtAuthorizer::new(key, Algorithm::HS256).unwrap();
    /// let refusal = jwt.verify("not.a.token").unwrap_err();
    /// assert_eq!(refusal.status(), 401);
    /// ```
    pub fn verify(&self, token: &str) -> Result<Grants, Refusal> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|error| Refusal::InvalidCredentials(reason(error.kind()).into()))?;
        let claims = data.claims;
        let mut grants = Grants::authenticated();
        if let Some(mercure) = claims.mercure {
            for selector in mercure.subscribe {
                grants = grants.allow_subscribe(selector);
            }
            for selector in mercure.publish {
                grants = grants.allow_publish(selector);
            }
        }
        // Required and checked above. The grants hold as long as the token
        // is accepted: `jsonwebtoken` accepts it while the time in whole
        // seconds is at most `exp` plus the leeway, so until the second
        // after that begins. An `exp` past what the clock can hold never
        // ends.
        if let Some(expires) = claims
            .exp
            .as_ref()
            .and_then(numeric_date)
            .and_then(|exp| exp.checked_add(self.validation.leeway)?.checked_add(1))
            .and_then(|seconds| UNIX_EPOCH.checked_add(Duration::from_secs(seconds)))
        {
            grants = grants.until(expires);
        }
        Ok(grants.with_selectors_of(&self.anonymous))
    }

    /// The request's token, if it has one, or why what it has is not one.
    fn token<'a>(&self, request: &'a Parts) -> Result<Option<std::borrow::Cow<'a, str>>, Refusal> {
        let mut headers = request.headers.get_all(AUTHORIZATION).iter();
        if let Some(header) = headers.next() {
            if headers.next().is_some() {
                return Err(Refusal::invalid_credentials(
                    "more than one Authorization header",
                ));
            }
            let bearer = header
                .to_str()
                .ok()
                .and_then(|value| value.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim())
                .filter(|token| !token.is_empty());
            return match bearer {
                Some(token) => Ok(Some(token.into())),
                None => Err(Refusal::invalid_credentials(
                    "the Authorization header is not a Bearer token",
                )),
            };
        }
        if let Some(name) = &self.query {
            let mut found = request
                .uri
                .query()
                .into_iter()
                .flat_map(|query| query.split('&'))
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(key).as_deref() == Some(name.as_str())).then_some(value)
                });
            if let Some(value) = found.next() {
                if found.next().is_some() {
                    return Err(Refusal::invalid_credentials(format!(
                        "more than one {name} query parameter"
                    )));
                }
                return match percent_decode(value) {
                    Some(token) if !token.is_empty() => Ok(Some(token.into())),
                    _ => Err(Refusal::invalid_credentials(format!(
                        "the {name} query parameter is not a token"
                    ))),
                };
            }
        }
        if let Some(name) = &self.cookie {
            // The first cookie of that name: browsers send the one of the
            // most specific path first.
            let cookie = request
                .headers
                .get_all(COOKIE)
                .iter()
                .filter_map(|header| header.to_str().ok())
                .flat_map(|header| header.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.trim_matches('"'));
            if let Some(token) = cookie {
                return Ok(Some(token.into()));
            }
        }
        Ok(None)
    }
}

impl Authorize for JwtAuthorizer {
    fn authorize(&self, request: &Parts) -> impl Future<Output = Result<Grants, Refusal>> + Send {
        let grants = match self.token(request) {
            Ok(Some(token)) => self.verify(&token),
            Ok(None) => Ok(self.anonymous.clone()),
            Err(refusal) => Err(refusal),
        };
        std::future::ready(grants)
    }
}

/// The claims read: Mercure's, and `exp`.
#[derive(Deserialize)]
struct Claims {
    /// Required by the validation; optional here, so that a token without
    /// it is refused for that, not as malformed. A number, whole or not,
    /// as RFC 7519's NumericDate is (see [`numeric_date`]).
    exp: Option<serde_json::Number>,
    #[serde(default)]
    mercure: Option<MercureClaim>,
}

#[derive(Deserialize)]
struct MercureClaim {
    #[serde(default)]
    subscribe: Vec<String>,
    #[serde(default)]
    publish: Vec<String>,
}

/// A NumericDate in whole seconds, as `jsonwebtoken` validated it: a
/// fraction rounded, and `None` for what it refuses (negative, or past
/// `u64`), which never gets here.
fn numeric_date(number: &serde_json::Number) -> Option<u64> {
    number.as_u64().or_else(|| {
        let seconds = number.as_f64()?;
        (seconds.is_finite() && seconds >= 0.0 && seconds < u64::MAX as f64)
            .then(|| seconds.round() as u64)
    })
}

/// Why a token was refused, in a few words for the client.
fn reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
        ErrorKind::InvalidSignature => "the token's signature does not verify",
        ErrorKind::InvalidAlgorithm => {
            "the token is not signed with the algorithm this server accepts"
        }
        ErrorKind::InvalidAudience => "the token is meant for another audience",
        ErrorKind::InvalidIssuer => "the token is from another issuer",
        ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (exp, aud or iss)",
        ErrorKind::InvalidClaimFormat(_) | ErrorKind::Json(_) => {
            "the token's header or claims are malformed"
        }
        _ => "the token is malformed",
    }
}

/// `text` with `%XX` escapes decoded and `+` as a space, as a query
/// string's values are; `None` if that is not UTF-8 or an escape is bad.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.bytes();
    while let Some(byte) = rest.next() {
        bytes.push(match byte {
            b'+' => b' ',
            b'%' => {
                let high = (rest.next()? as char).to_digit(16)?;
                let low = (rest.next()? as char).to_digit(16)?;
                (high * 16 + low) as u8
            }
            other => other,
        });
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
    use serde_json::json;

    use super::{percent_decode, JwtAuthorizer};

    const SECRET: &[u8] = b"the secret these tests sign with, 32+ bytes";

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn sign(claims: &serde_json::Value) -> String {
        let key = EncodingKey::from_secret(SECRET).unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
    }

    fn authorizer() -> JwtAuthorizer {
        let key = DecodingKey::from_secret(SECRET).unwrap();
        JwtAuthorizer::new(key, Algorithm::HS256).unwrap()
    }

    /// RFC 7519's NumericDate may have a fraction, `jsonwebtoken` accepts
    /// one (rounded), and issuers that divide milliseconds by 1000 write
    /// one: such a token is valid, not malformed.
    #[test]
    fn an_exp_with_a_fraction_is_read_as_jsonwebtoken_reads_it() {
        let exp = now() + 600;
        let token = sign(&json!({ "exp": exp as f64 + 0.25, "mercure": { "subscribe": ["a"] } }));
        let grants = authorizer().verify(&token).unwrap();
        assert!(grants.may_subscribe("a"));
        assert_eq!(
            grants.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(exp + 60 + 1))
        );
        let past = sign(&json!({ "exp": (now() - 3600) as f64 + 0.5 }));
        assert_eq!(authorizer().verify(&past).unwrap_err().status(), 401);
    }

    /// `jsonwebtoken` subtracts the leeway from the time in `u64`: a
    /// leeway past the clock panicked there (debug) on every request.
    #[test]
    fn a_leeway_too_long_for_the_clock_is_the_longest_kept() {
        let token = sign(&json!({ "exp": now() + 600 }));
        for leeway in [Duration::MAX, Duration::from_secs(now() + 1)] {
            let grants = authorizer().leeway(leeway).verify(&token).unwrap();
            assert!(grants.is_authenticated());
        }
        let expired = sign(&json!({ "exp": now() - 3 * 24 * 3600 }));
        assert!(authorizer().leeway(Duration::MAX).verify(&expired).is_err());
    }

    #[test]
    fn query_values_are_decoded_or_refused() {
        assert_eq!(percent_decode("a.b-c_d").as_deref(), Some("a.b-c_d"));
        assert_eq!(percent_decode("a%2Eb+c").as_deref(), Some("a.b c"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
