//! The NSL-KDD record schema: the one place that names the 41 features, their order in the
//! distribution files and the validation rule each one obeys.

/// What values a feature may take; decides both validation and encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A non-negative quantity (bytes, seconds, connection counts).
    Count,
    /// A documented 0/1 indicator. Validated as non-negative only: the training data holds
    /// `suattempted = 2`, which exploration reports as suspicious rather than rejecting.
    Indicator,
    /// A fraction in [0, 1].
    Rate,
    /// A symbolic value (protocol, service, TCP flag), one-hot encoded.
    Categorical,
}

/// One feature column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    pub kind: Kind,
}

const fn f(name: &'static str, kind: Kind) -> Feature {
    Feature { name, kind }
}

use Kind::{Categorical as Cat, Count, Indicator as Ind, Rate};

/// The 41 features in the order of the NSL-KDD distribution files.
pub const FEATURES: [Feature; 41] = [
    f("duration", Count),
    f("protocoltype", Cat),
    f("service", Cat),
    f("flag", Cat),
    f("srcbytes", Count),
    f("dstbytes", Count),
    f("land", Ind),
    f("wrongfragment", Count),
    f("urgent", Count),
    f("hot", Count),
    f("numfailedlogins", Count),
    f("loggedin", Ind),
    f("numcompromised", Count),
    f("rootshell", Ind),
    f("suattempted", Ind),
    f("numroot", Count),
    f("numfilecreations", Count),
    f("numshells", Count),
    f("numaccessfiles", Count),
    f("numoutboundcmds", Count),
    f("ishostlogin", Ind),
    f("isguestlogin", Ind),
    f("count", Count),
    f("srvcount", Count),
    f("serrorrate", Rate),
    f("srvserrorrate", Rate),
    f("rerrorrate", Rate),
    f("srvrerrorrate", Rate),
    f("samesrvrate", Rate),
    f("diffsrvrate", Rate),
    f("srvdiffhostrate", Rate),
    f("dsthostcount", Count),
    f("dsthostsrvcount", Count),
    f("dsthostsamesrvrate", Rate),
    f("dsthostdiffsrvrate", Rate),
    f("dsthostsamesrcportrate", Rate),
    f("dsthostsrvdiffhostrate", Rate),
    f("dsthostserrorrate", Rate),
    f("dsthostsrvserrorrate", Rate),
    f("dsthostrerrorrate", Rate),
    f("dsthostsrvrerrorrate", Rate),
];

/// The label column: `normal` or the attack's name.
pub const ATTACK: &str = "attack";
/// The NSL-KDD difficulty level. Metadata about a row, never a feature.
pub const LASTFLAG: &str = "lastflag";
/// The label value of benign traffic.
pub const NORMAL: &str = "normal";

/// Number of numeric features.
pub const NUM_NUMERIC: usize = 38;
/// Number of categorical features.
pub const NUM_CATEGORICAL: usize = 3;

/// Positions in [`FEATURES`] of the numeric features, in file order.
pub fn numeric_features() -> impl Iterator<Item = (usize, &'static Feature)> {
    FEATURES.iter().enumerate().filter(|(_, f)| f.kind != Cat)
}

/// Positions in [`FEATURES`] of the categorical features, in file order.
pub fn categorical_features() -> impl Iterator<Item = (usize, &'static Feature)> {
    FEATURES.iter().enumerate().filter(|(_, f)| f.kind == Cat)
}

/// The names of the numeric features, in the order of [`crate::Record::numeric`].
pub fn numeric_names() -> Vec<&'static str> {
    numeric_features().map(|(_, f)| f.name).collect()
}

/// The names of the categorical features, in the order of [`crate::Record::categorical`].
pub fn categorical_names() -> [&'static str; NUM_CATEGORICAL] {
    ["protocoltype", "service", "flag"]
}

/// Looks a feature up by name, ignoring case and `_` (KDD's documents write `src_bytes`).
pub fn feature_index(name: &str) -> Option<usize> {
    let key = normalise_name(name);
    FEATURES.iter().position(|f| f.name == key)
}

/// The canonical form of a column name: lower case without underscores or spaces.
pub fn normalise_name(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The attack family of an attack name, as grouped in the NSL-KDD literature.
pub fn attack_family(attack: &str) -> &'static str {
    match attack {
        NORMAL => "normal",
        "back" | "land" | "neptune" | "pod" | "smurf" | "teardrop" | "apache2" | "mailbomb"
        | "processtable" | "udpstorm" => "DoS",
        "ipsweep" | "nmap" | "portsweep" | "satan" | "mscan" | "saint" => "Probe",
        "ftp_write" | "guess_passwd" | "imap" | "multihop" | "phf" | "spy" | "warezclient"
        | "warezmaster" | "named" | "sendmail" | "snmpgetattack" | "snmpguess" | "worm"
        | "xlock" | "xsnoop" | "httptunnel" => "R2L",
        "buffer_overflow" | "loadmodule" | "perl" | "rootkit" | "ps" | "sqlattack" | "xterm" => {
            "U2R"
        }
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_38_numeric_and_3_categorical_features() {
        assert_eq!(numeric_features().count(), NUM_NUMERIC);
        let cats: Vec<_> = categorical_features().map(|(_, f)| f.name).collect();
        assert_eq!(cats, categorical_names());
    }

    #[test]
    fn names_match_in_any_spelling() {
        assert_eq!(feature_index("src_bytes"), Some(4));
        assert_eq!(feature_index("SrcBytes"), Some(4));
        assert_eq!(feature_index("lastflag"), None);
    }

    #[test]
    fn families_cover_known_and_unknown_attacks() {
        assert_eq!(attack_family("neptune"), "DoS");
        assert_eq!(attack_family("guess_passwd"), "R2L");
        assert_eq!(attack_family("brand_new"), "unknown");
    }
}
