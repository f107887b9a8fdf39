//! Checks beyond the pattern: entropy, checksums, number ranges.

use std::net::IpAddr;

use crate::policy::Validator;

/// Shannon entropy of `s` in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut other: std::collections::HashMap<char, u32> = std::collections::HashMap::new();
    let mut n = 0u32;
    for c in s.chars() {
        n += 1;
        if (c as u32) < 256 {
            counts[c as usize] += 1;
        } else {
            *other.entry(c).or_insert(0) += 1;
        }
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts
        .iter()
        .chain(other.values())
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

fn digits(s: &str) -> Vec<u32> {
    s.chars().filter_map(|c| c.to_digit(10)).collect()
}

/// A payment card number: 13 to 19 digits, not all equal, starting with a
/// card network's prefix (Visa 4, Mastercard 51-55 and 22-27, American
/// Express 34 and 37, Diners 30, 36 and 38, Discover and UnionPay 6, JCB 35),
/// with a valid Luhn checksum.
pub fn luhn(s: &str) -> bool {
    let d = digits(s);
    if !(13..=19).contains(&d.len()) || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let prefix = d[0] * 10 + d[1];
    let network = d[0] == 4 || d[0] == 6 || matches!(prefix, 22..=27 | 30 | 34..=38 | 51..=55);
    if !network {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A US SSN `AAA-GG-SSSS` outside the ranges never issued: area 000, 666 or
/// 900-999, group 00, serial 0000.
pub fn ssn(s: &str) -> bool {
    let d = digits(s);
    if d.len() != 9 {
        return false;
    }
    let area = d[0] * 100 + d[1] * 10 + d[2];
    let group = d[3] * 10 + d[4];
    let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// IBAN lengths by country (ISO 13616 registry).
fn iban_length(country: &str) -> Option<usize> {
    Some(match country {
        "AL" => 28,
        "AD" => 24,
        "AT" => 20,
        "AZ" => 28,
        "BH" => 22,
        "BY" => 28,
        "BE" => 16,
        "BA" => 20,
        "BR" => 29,
        "BG" => 22,
        "CR" => 22,
        "HR" => 21,
        "CY" => 28,
        "CZ" => 24,
        "DK" => 18,
        "DO" => 28,
        "TL" => 23,
        "EG" => 29,
        "SV" => 28,
        "EE" => 20,
        "FO" => 18,
        "FI" => 18,
        "FR" => 27,
        "GE" => 22,
        "DE" => 22,
        "GI" => 23,
        "GR" => 27,
        "GL" => 18,
        "GT" => 28,
        "HU" => 28,
        "IS" => 26,
        "IQ" => 23,
        "IE" => 22,
        "IL" => 23,
        "IT" => 27,
        "JO" => 30,
        "KZ" => 20,
        "XK" => 20,
        "KW" => 30,
        "LV" => 21,
        "LB" => 28,
        "LY" => 25,
        "LI" => 21,
        "LT" => 20,
        "LU" => 20,
        "MK" => 19,
        "MT" => 31,
        "MR" => 27,
        "MU" => 30,
        "MD" => 24,
        "MC" => 27,
        "ME" => 22,
        "NL" => 18,
        "NO" => 15,
        "PK" => 24,
        "PS" => 29,
        "PL" => 28,
        "PT" => 25,
        "QA" => 29,
        "RO" => 24,
        "LC" => 32,
        "SM" => 27,
        "ST" => 25,
        "SA" => 24,
        "RS" => 22,
        "SC" => 31,
        "SK" => 24,
        "SI" => 19,
        "ES" => 24,
        "SD" => 18,
        "SE" => 24,
        "CH" => 21,
        "TN" => 24,
        "TR" => 26,
        "UA" => 29,
        "AE" => 23,
        "GB" => 22,
        "VA" => 22,
        "VG" => 24,
        _ => return None,
    })
}

/// An IBAN of its country's length whose mod-97 checksum is 1.
pub fn iban(s: &str) -> bool {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() < 15 || !compact.is_ascii() {
        return false;
    }
    if iban_length(&compact[..2]) != Some(compact.len()) {
        return false;
    }
    let rearranged = compact[4..].chars().chain(compact[..4].chars());
    let mut rem = 0u32;
    for c in rearranged {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// An address that parses and is not unspecified (`0.0.0.0`, `::`).
pub(crate) fn ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok_and(|a| !a.is_unspecified())
}

/// 8 to 15 digits, not all one digit.
pub(crate) fn phone(s: &str) -> bool {
    let d = digits(s);
    (8..=15).contains(&d.len()) && !d.iter().all(|&x| x == d[0])
}

/// Runs a validator.
pub(crate) fn validate(v: Validator, s: &str) -> bool {
    match v {
        Validator::Luhn => luhn(s),
        Validator::Ssn => ssn(s),
        Validator::Iban => iban(s),
        Validator::Ip => ip(s),
        Validator::Phone => phone(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_card_numbers_and_rejects_changed_digits() {
        assert!(luhn("4111 1111 1111 1111"));
        assert!(luhn("5500-0000-0000-0004"));
        assert!(luhn("378282246310005"));
        assert!(!luhn("4111 1111 1111 1112"));
        assert!(!luhn("0000 0000 0000 0000"));
        // Luhn-valid, but no card network starts with 0.
        assert!(!luhn("0000 0000 0000 0018"));
    }

    #[test]
    fn ssn_rejects_never_issued_ranges() {
        assert!(ssn("123-45-6789"));
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "912-12-3456",
            "123-00-4567",
            "123-45-0000",
        ] {
            assert!(!ssn(bad), "{bad}");
        }
    }

    #[test]
    fn iban_checksum_and_length() {
        assert!(iban("GB82 WEST 1234 5698 7654 32"));
        assert!(iban("DE89370400440532013000"));
        assert!(!iban("GB82 WEST 1234 5698 7654 33"));
        assert!(!iban("DE8937040044053201300"));
    }

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(shannon_entropy("aaaa"), 0.0);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-12);
        assert!(shannon_entropy("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY") > 4.0);
    }
}
