//! U-space flight authorisation requests (Regulation (EU) 2021/664, Article 10 and Annex IV): the data an operator
//! must give with a flight in U-space airspace, checked before anything is planned, so that a USSP refuses a request
//! it could not authorise rather than publishing an intent for it.
//!
//! The identifiers carry their own consistency checks: a UAS serial number (ANSI/CTA-2063-A) states the length of
//! its manufacturer's part, and an operator registration number (EN 4709-002) ends in a check character over its
//! secret part. A typo in either is caught here, not by the authority after the flight was planned.

/// What is wrong with an authorisation request: the field, as the request names it, and the rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} {rule}")]
pub struct AuthorisationError {
    pub field: &'static str,
    pub rule: String,
}

fn refuse<T>(field: &'static str, rule: impl Into<String>) -> Result<T, AuthorisationError> {
    Err(AuthorisationError { field, rule: rule.into() })
}

/// The characters of ANSI/CTA-2063-A serial numbers: digits and upper-case letters without O and I, which read as 0
/// and 1.
const SERIAL_CHARACTERS: &str = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// The length code's characters: the manufacturer's serial number is 1 to 15 characters long.
const SERIAL_LENGTH_CODES: &str = "123456789ABCDEF";

/// A UAS serial number in the ANSI/CTA-2063-A physical serial number format: a 4-character manufacturer code
/// (assigned by ICAO), a length code (`1`–`9`, `A`–`F` for 1 to 15) and the manufacturer's serial number of exactly
/// that length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerialNumber(String);

impl SerialNumber {
    pub const FIELD: &'static str = "uas_serial_number";

    pub fn parse(text: &str) -> Result<SerialNumber, AuthorisationError> {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() < 6 {
            return refuse(
                Self::FIELD,
                format!(
                    "{text:?} is not an ANSI/CTA-2063-A serial number: a 4-character manufacturer code, a length code \
                     and 1 to 15 characters are at least 6"
                ),
            );
        }
        if let Some(c) = chars[..4].iter().find(|c| !SERIAL_CHARACTERS.contains(**c)) {
            return refuse(
                Self::FIELD,
                format!(
                    "{text:?}: manufacturer code {:?} has {c:?}; ANSI/CTA-2063-A allows digits and upper-case letters \
                     other than O and I",
                    chars[..4].iter().collect::<String>()
                ),
            );
        }
        let Some(length) = SERIAL_LENGTH_CODES.find(chars[4]).map(|i| i + 1) else {
            return refuse(
                Self::FIELD,
                format!("{text:?}: length code {:?} is not one of 1-9, A-F (ANSI/CTA-2063-A)", chars[4]),
            );
        };
        let serial = &chars[5..];
        if serial.len() != length {
            return refuse(
                Self::FIELD,
                format!(
                    "{text:?}: length code {:?} announces {length} characters of manufacturer's serial number, {} follow \
                     (ANSI/CTA-2063-A)",
                    chars[4],
                    serial.len()
                ),
            );
        }
        if let Some(c) = serial.iter().find(|c| !SERIAL_CHARACTERS.contains(**c)) {
            return refuse(
                Self::FIELD,
                format!(
                    "{text:?}: the manufacturer's serial number has {c:?}; ANSI/CTA-2063-A allows digits and upper-case \
                     letters other than O and I"
                ),
            );
        }
        Ok(SerialNumber(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The characters of an EN 4709-002 registration number's secret part and of its check character.
const REGISTRATION_CHARACTERS: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

/// A UAS operator registration number as EN 4709-002 writes it: `CCCbbbbbbbbbbbbk-sss`, the registering state's
/// ISO 3166 alpha-3 code, a 12-character number, the check character and, after the dash, the 3 secret characters.
/// The check character is Luhn mod 36 over the number and the secret characters, so the public part (without the
/// secret) cannot be validated, nor forged, without them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorRegistration(String);

impl OperatorRegistration {
    pub const FIELD: &'static str = "operator_id";

    pub fn parse(text: &str) -> Result<OperatorRegistration, AuthorisationError> {
        let shape = || {
            format!(
                "{text:?} is not an EN 4709-002 operator registration number: 3 upper-case letters of the country, 12 \
                 characters, a check character, '-' and 3 secret characters"
            )
        };
        let chars: Vec<char> = text.chars().collect();
        if chars.len() != 20 || chars[16] != '-' || !chars[..3].iter().all(char::is_ascii_uppercase) {
            return refuse(Self::FIELD, shape());
        }
        let secret: Vec<char> = chars[3..15].iter().chain(&chars[17..]).copied().collect();
        if let Some(c) = secret.iter().chain(&chars[15..16]).find(|c| !REGISTRATION_CHARACTERS.contains(**c))
        {
            return refuse(
                Self::FIELD,
                format!(
                    "{text:?} has {c:?}; EN 4709-002 numbers are digits and lower-case letters after the country"
                ),
            );
        }
        let expected = check_character(&secret);
        if chars[15] != expected {
            return refuse(
                Self::FIELD,
                format!(
                    "{text:?}: check character {:?} does not match the number and its secret characters (EN 4709-002, \
                     Luhn mod 36)",
                    chars[15]
                ),
            );
        }
        Ok(OperatorRegistration(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Luhn mod 36 over `chars` (each one of [`REGISTRATION_CHARACTERS`]): from the right, every other code point is
/// doubled starting with the last, the base-36 digits of each product summed, and the check character is what
/// brings the sum to a multiple of 36. It catches every single-character error and every swap of neighbours.
fn check_character(chars: &[char]) -> char {
    let n = REGISTRATION_CHARACTERS.len();
    let sum: usize = chars
        .iter()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let value = REGISTRATION_CHARACTERS.find(*c).expect("a registration character");
            let product = if i % 2 == 0 { 2 * value } else { value };
            product / n + product % n
        })
        .sum();
    REGISTRATION_CHARACTERS.chars().nth((n - sum % n) % n).expect("a code point below 36")
}

/// Names of a field's values as requests write them, both ways.
macro_rules! named_values {
    ($name:ident { $($variant:ident),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value's name in a request.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant)),+
                }
            }

            fn from_name(name: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.name() == name)
            }

            fn names() -> String {
                $name::ALL.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}

/// Category of the operation (Regulation (EU) 2019/947, Article 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationCategory {
    Open,
    Specific,
    Certified,
}
named_values!(OperationCategory { Open, Specific, Certified });

/// Whether the remote pilot keeps the aircraft in sight (Annex IV, paragraph 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationMode {
    Vlos,
    Bvlos,
}
named_values!(OperationMode { Vlos, Bvlos });

/// The class identification label of the UAS (Regulations (EU) 2019/945 and 2020/1058); `Other` is a UAS without
/// one, which then flies on a type certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UasClass {
    C0,
    C1,
    C2,
    C3,
    C4,
    C5,
    C6,
    Other,
}
named_values!(UasClass { C0, C1, C2, C3, C4, C5, C6, Other });

/// The longest endurance accepted, in minutes: ten days, far past any UAS's, so that only a unit mistake (seconds
/// for minutes) is refused.
pub const MAX_ENDURANCE_MINUTES: u32 = 10 * 24 * 60;

/// The data of Annex IV of Regulation (EU) 2021/664 that a U-space flight authorisation request carries, each
/// field as the operator gave it before validation: [`FlightAuthorisation::validate`] turns it into the checked one.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthorisationRequest<'a> {
    pub uas_serial_number: &'a str,
    /// `Undeclared` or any name this type does not know is refused.
    pub operation_mode: &'a str,
    /// `Unknown` or any name this type does not know is refused.
    pub operation_category: &'a str,
    pub uas_class: &'a str,
    pub uas_type_certificate: Option<&'a str>,
    pub identification_technologies: &'a [String],
    pub connectivity_methods: &'a [String],
    pub endurance_minutes: f64,
    pub emergency_procedure_url: &'a str,
    pub operator_id: &'a str,
    pub uas_id: Option<&'a str>,
}

/// A validated U-space flight authorisation request: every field Annex IV asks for, each well formed.
#[derive(Clone, Debug, PartialEq)]
pub struct FlightAuthorisation {
    pub uas_serial_number: SerialNumber,
    pub operation_mode: OperationMode,
    pub operation_category: OperationCategory,
    pub uas_class: UasClass,
    /// Required when the UAS has no class label (Annex IV, paragraph 4).
    pub uas_type_certificate: Option<String>,
    pub identification_technologies: Vec<String>,
    pub connectivity_methods: Vec<String>,
    pub endurance_minutes: u32,
    pub emergency_procedure_url: String,
    pub operator_id: OperatorRegistration,
    /// The aircraft's registration mark, when it has one (Annex IV, paragraph 10).
    pub uas_id: Option<String>,
}

/// The non-empty entries of a list that must name at least one thing.
fn named(list: &[String], field: &'static str, what: &str) -> Result<Vec<String>, AuthorisationError> {
    let names: Vec<String> =
        list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if names.is_empty() {
        return refuse(field, format!("must name at least one {what} (Regulation (EU) 2021/664, Annex IV)"));
    }
    Ok(names)
}

/// An absolute http(s) URL with a host and nothing a client could not send: the procedure must be retrievable.
fn retrievable(url: &str) -> Result<String, AuthorisationError> {
    const FIELD: &str = "emergency_procedure_url";
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let host = rest.and_then(|r| r.split(['/', '?', '#']).next()).unwrap_or_default();
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) || url.len() > 2048 {
        return refuse(
            FIELD,
            format!("{url:?} is not an absolute http(s) URL the emergency procedure can be retrieved from"),
        );
    }
    Ok(url.to_owned())
}

impl FlightAuthorisation {
    /// Checks every field of `r`, the first fault found refusing the whole request.
    pub fn validate(r: &AuthorisationRequest<'_>) -> Result<FlightAuthorisation, AuthorisationError> {
        let uas_serial_number = SerialNumber::parse(r.uas_serial_number)?;
        let operation_mode =
            OperationMode::from_name(r.operation_mode).ok_or_else(|| AuthorisationError {
                field: "operation_mode",
                rule: format!(
                    "{:?} is not one of {} (Annex IV, paragraph 2)",
                    r.operation_mode,
                    OperationMode::names()
                ),
            })?;
        let operation_category =
            OperationCategory::from_name(r.operation_category).ok_or_else(|| AuthorisationError {
                field: "operation_category",
                rule: format!(
                    "{:?} is not one of {} (Annex IV, paragraph 4)",
                    r.operation_category,
                    OperationCategory::names()
                ),
            })?;
        let uas_class = UasClass::from_name(r.uas_class).ok_or_else(|| AuthorisationError {
            field: "uas_class",
            rule: format!("{:?} is not one of {} (Annex IV, paragraph 4)", r.uas_class, UasClass::names()),
        })?;
        let uas_type_certificate =
            r.uas_type_certificate.map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned);
        if uas_class == UasClass::Other && uas_type_certificate.is_none() {
            return refuse(
                "uas_type_certificate",
                "is required for a UAS without a class label (uas_class Other; Annex IV, paragraph 4)",
            );
        }
        let identification_technologies =
            named(r.identification_technologies, "identification_technologies", "identification technology")?;
        let connectivity_methods =
            named(r.connectivity_methods, "connectivity_methods", "connectivity method")?;
        let minutes = r.endurance_minutes;
        if !(minutes.fract() == 0.0 && (1.0..=f64::from(MAX_ENDURANCE_MINUTES)).contains(&minutes)) {
            return refuse(
                "endurance_minutes",
                format!("must be a whole number of minutes from 1 to {MAX_ENDURANCE_MINUTES}, got {minutes}"),
            );
        }
        Ok(FlightAuthorisation {
            uas_serial_number,
            operation_mode,
            operation_category,
            uas_class,
            uas_type_certificate,
            identification_technologies,
            connectivity_methods,
            // Whole and within 1..=MAX_ENDURANCE_MINUTES, checked above.
            endurance_minutes: minutes as u32,
            emergency_procedure_url: retrievable(r.emergency_procedure_url)?,
            operator_id: OperatorRegistration::parse(r.operator_id)?,
            uas_id: r.uas_id.map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SERIAL: &str = "1AF49UL5CC5J6K";
    const OPERATOR: &str = "CHEo5kut30e0mt01-qwe";

    fn request<'a>(techs: &'a [String], links: &'a [String]) -> AuthorisationRequest<'a> {
        AuthorisationRequest {
            uas_serial_number: SERIAL,
            operation_mode: "Vlos",
            operation_category: "Open",
            uas_class: "C0",
            uas_type_certificate: Some(""),
            identification_technologies: techs,
            connectivity_methods: links,
            endurance_minutes: 30.0,
            emergency_procedure_url: "https://uss.example.com/emergency",
            operator_id: OPERATOR,
            uas_id: Some(""),
        }
    }

    fn refused(r: &AuthorisationRequest<'_>) -> AuthorisationError {
        FlightAuthorisation::validate(r).expect_err("refused")
    }

    #[test]
    fn a_complete_request_is_accepted() {
        let (techs, links) = (vec!["ASTMNetRID".to_owned()], vec!["cellular".to_owned()]);
        let a = FlightAuthorisation::validate(&request(&techs, &links)).unwrap();
        assert_eq!(a.uas_serial_number.as_str(), SERIAL);
        assert_eq!(a.operator_id.as_str(), OPERATOR);
        assert_eq!(
            (a.operation_mode, a.operation_category, a.uas_class),
            (OperationMode::Vlos, OperationCategory::Open, UasClass::C0)
        );
        assert_eq!(a.endurance_minutes, 30);
        // Empty optional fields are absent ones.
        assert_eq!((a.uas_type_certificate, a.uas_id), (None, None));
    }

    #[test]
    fn each_field_is_refused_by_name() {
        let (techs, links) = (vec!["ASTMNetRID".to_owned()], vec!["cellular".to_owned()]);
        let ok = request(&techs, &links);
        let cases: Vec<(AuthorisationRequest<'_>, &str)> = vec![
            (
                AuthorisationRequest { uas_serial_number: "My serial number", ..ok.clone() },
                "uas_serial_number",
            ),
            (AuthorisationRequest { operation_mode: "Undeclared", ..ok.clone() }, "operation_mode"),
            (AuthorisationRequest { operation_category: "Unknown", ..ok.clone() }, "operation_category"),
            (AuthorisationRequest { uas_class: "C7", ..ok.clone() }, "uas_class"),
            (AuthorisationRequest { uas_class: "Other", ..ok.clone() }, "uas_type_certificate"),
            (AuthorisationRequest { endurance_minutes: 0.0, ..ok.clone() }, "endurance_minutes"),
            (AuthorisationRequest { endurance_minutes: 20.5, ..ok.clone() }, "endurance_minutes"),
            (AuthorisationRequest { endurance_minutes: f64::NAN, ..ok.clone() }, "endurance_minutes"),
            (AuthorisationRequest { endurance_minutes: 14_401.0, ..ok.clone() }, "endurance_minutes"),
            (
                AuthorisationRequest { emergency_procedure_url: "emergency.pdf", ..ok.clone() },
                "emergency_procedure_url",
            ),
            (
                AuthorisationRequest { emergency_procedure_url: "https:///x", ..ok.clone() },
                "emergency_procedure_url",
            ),
            (AuthorisationRequest { operator_id: "CHEo5kut30e0mt02-qwe", ..ok.clone() }, "operator_id"),
        ];
        for (r, field) in cases {
            assert_eq!(refused(&r).field, field, "{r:?}");
        }
        let blank = vec![" ".to_owned()];
        assert_eq!(refused(&request(&[], &links)).field, "identification_technologies");
        assert_eq!(refused(&request(&techs, &blank)).field, "connectivity_methods");
        let certified =
            AuthorisationRequest { uas_class: "Other", uas_type_certificate: Some("EASA.UAS.123"), ..ok };
        assert_eq!(FlightAuthorisation::validate(&certified).unwrap().uas_class, UasClass::Other);
    }

    #[test]
    fn serial_numbers_follow_ansi_cta_2063_a() {
        for good in [SERIAL, "MFR1C123456789ABC", "ABCD1Z", "0000FABCDEFGHJKLMNPQ"] {
            SerialNumber::parse(good).unwrap();
        }
        for (bad, rule) in [
            ("My serial number", "manufacturer code"),
            ("1AF4", "at least 6"),
            ("1AF48UL5CC5J6K", "announces 8"),
            ("1AF4AUL5CC5J6K", "announces 10"),
            ("1AF40UL5CC5J6K", "length code"),
            ("1AF4GUL5CC5J6K", "length code"),
            ("1AO49UL5CC5J6K", "manufacturer code"),
            ("1AF49UL5CC5J6I", "other than O and I"),
            ("1AF49ul5cc5j6k", "other than O and I"),
        ] {
            let e = SerialNumber::parse(bad).unwrap_err();
            assert!(e.to_string().contains(rule), "{bad}: {e}");
        }
    }

    #[test]
    fn registration_numbers_follow_en_4709_002() {
        OperatorRegistration::parse(OPERATOR).unwrap();
        for bad in [
            "CHEo5kut30e0mt01",
            "CHEo5kut30e0mt01qwe",
            "cheo5kut30e0mt01-qwe",
            "CHEO5kut30e0mt01-qwe",
            "CHEo5kut30e0mt01-qwE",
            "CHEo5kut30e0mt01-qwf",
            "CHEo5kut30e0mt0-1qwe",
        ] {
            let e = OperatorRegistration::parse(bad).unwrap_err();
            assert_eq!(e.field, "operator_id", "{bad}");
        }
    }

    /// A registration number with the check character EN 4709-002 gives it.
    fn registration(country: &str, number: &str, secret: &str) -> String {
        let chars: Vec<char> = number.chars().chain(secret.chars()).collect();
        format!("{country}{number}{}-{secret}", check_character(&chars))
    }

    fn alnum(len: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(
            proptest::sample::select(REGISTRATION_CHARACTERS.chars().collect::<Vec<_>>()),
            len,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn serial_char() -> impl Strategy<Value = char> {
        proptest::sample::select(SERIAL_CHARACTERS.chars().collect::<Vec<_>>())
    }

    proptest! {
        #[test]
        fn numbers_with_their_check_character_are_accepted_and_any_one_change_refused(
            country in "[A-Z]{3}", number in alnum(12), secret in alnum(3),
            at in prop_oneof![3usize..16, 17usize..20], to in proptest::sample::select(REGISTRATION_CHARACTERS.chars().collect::<Vec<_>>()),
        ) {
            let good = registration(&country, &number, &secret);
            prop_assert!(OperatorRegistration::parse(&good).is_ok(), "{}", good);
            let mut chars: Vec<char> = good.chars().collect();
            prop_assume!(chars[at] != to);
            chars[at] = to;
            let changed: String = chars.into_iter().collect();
            prop_assert!(OperatorRegistration::parse(&changed).is_err(), "{}", changed);
        }

        #[test]
        fn serial_numbers_of_the_announced_length_are_accepted_and_others_refused(
            maker in proptest::collection::vec(serial_char(), 4),
            serial in proptest::collection::vec(serial_char(), 1..=15),
            announced in 1usize..=15,
        ) {
            let code = SERIAL_LENGTH_CODES.chars().nth(announced - 1).unwrap();
            let text: String = maker.iter().chain(&[code]).chain(&serial).collect();
            prop_assert_eq!(SerialNumber::parse(&text).is_ok(), announced == serial.len(), "{}", text);
        }
    }
}
