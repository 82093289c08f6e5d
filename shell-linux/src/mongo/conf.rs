//! `mongodb.conf`: netdata's line grammar (spec §5.2), read strictly.
//!
//! Lines are trimmed; empty lines and lines starting with `#` are ignored; every other
//! line is `name = value`, name and value trimmed, and one pair of matching quotes (`"`
//! or `'`) around the value removed. The names are `uri`, `database` and `collection`.
//!
//! Where netdata logs and goes on, backhaul refuses the file with its line: a line
//! without `=`, an unknown name, a name given twice.

/// One setting and the line it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Setting {
    /// The value, trimmed and unquoted.
    pub(crate) value: String,
    /// Its 1-based line.
    pub(crate) line: usize,
}

/// What `mongodb.conf` sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MongoConf {
    /// `uri`.
    pub(crate) uri: Option<Setting>,
    /// `database`.
    pub(crate) database: Option<Setting>,
    /// `collection`.
    pub(crate) collection: Option<Setting>,
}

/// Removes one pair of matching surrounding quotes.
fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|rest| rest.strip_suffix(q)) {
            return inner;
        }
    }
    value
}

/// Parses the text of `mongodb.conf`.
///
/// # Errors
///
/// `LINE: what is wrong` for the first bad line.
pub(crate) fn parse(text: &str) -> Result<MongoConf, String> {
    let mut conf = MongoConf::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, value)) = trimmed.split_once('=') else {
            return Err(format!(
                "{line}: {trimmed:?} is not `name = value` (the names are uri, database \
                 and collection)"
            ));
        };
        let name = name.trim();
        let value = unquote(value.trim()).to_owned();
        let slot = match name {
            "uri" => &mut conf.uri,
            "database" => &mut conf.database,
            "collection" => &mut conf.collection,
            _ => {
                return Err(format!(
                    "{line}: {name}: unknown setting (the names are uri, database and \
                     collection)"
                ))
            }
        };
        if let Some(first) = slot {
            return Err(format!(
                "{line}: {name}: set twice (first on line {})",
                first.line
            ));
        }
        *slot = Some(Setting { value, line });
    }
    Ok(conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(value: &str, line: usize) -> Option<Setting> {
        Some(Setting {
            value: value.to_owned(),
            line,
        })
    }

    #[test]
    fn netdata_grammar() {
        let text = "\
# netdata's own example
   uri = \"mongodb://127.0.0.1:27017/\"

\t# indented comment
database='netdata'
 collection  =   metrics with spaces   \r
";
        let conf = parse(text).unwrap();
        assert_eq!(conf.uri, setting("mongodb://127.0.0.1:27017/", 2));
        assert_eq!(conf.database, setting("netdata", 5));
        assert_eq!(conf.collection, setting("metrics with spaces", 6));
    }

    #[test]
    fn quotes_come_off_once_and_only_in_pairs() {
        let conf = parse("uri = \"'x'\"\ndatabase = \"x'\ncollection = \"\"").unwrap();
        assert_eq!(conf.uri.unwrap().value, "'x'");
        assert_eq!(conf.database.unwrap().value, "\"x'");
        assert_eq!(conf.collection.unwrap().value, "");
        let conf = parse("collection = \"").unwrap();
        assert_eq!(conf.collection.unwrap().value, "\"");
        let conf = parse("uri = a=b").unwrap();
        assert_eq!(conf.uri.unwrap().value, "a=b");
    }

    #[test]
    fn empty_file() {
        assert_eq!(parse("").unwrap(), MongoConf::default());
        assert_eq!(parse("\n# only\n\n").unwrap(), MongoConf::default());
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("# c\nuri mongodb://h/\n").unwrap_err();
        assert!(
            err.starts_with("2: \"uri mongodb://h/\" is not `name = value`"),
            "{err}"
        );
        let err = parse("collection = a\ncolection = b").unwrap_err();
        assert!(err.starts_with("2: colection: unknown setting"), "{err}");
        let err = parse("collection = a\n\ncollection = b").unwrap_err();
        assert_eq!(err, "3: collection: set twice (first on line 1)");
        let err = parse("= x").unwrap_err();
        assert!(err.starts_with("1: : unknown setting"), "{err}");
    }
}
