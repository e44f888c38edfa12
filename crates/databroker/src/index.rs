//! What the databroker understands inside a record's data: indexed fields
//! (for `Query` filters and the sync client's lookups) and field-mask patches.
//!
//! Records carry opaque protobuf messages. The databroker decodes the types it
//! knows; today that is `google.protobuf.Struct`, whose top-level string,
//! number, bool and string-list fields are indexed, and whose fields (dotted
//! paths into nested structs) can be patched. Later record types (sessions,
//! users) add their extractors here.

use prost::Message;
use prost_types::value::Kind;
use prost_types::{Struct, Value};

use crate::StorageError;
use crate::record::Data;

/// The type URL of `google.protobuf.Struct`.
pub const STRUCT_TYPE_URL: &str = "type.googleapis.com/google.protobuf.Struct";

/// The `(field, value)` pairs a record of this data can be found by.
/// Unknown types and undecodable data have none.
pub fn index_fields(data: &Data) -> Vec<(String, String)> {
    index_fields_of(&data.type_url, &data.value)
}

/// [`index_fields`] of data given as its type URL and encoded message.
pub fn index_fields_of(type_url: &str, value: &[u8]) -> Vec<(String, String)> {
    if type_url != STRUCT_TYPE_URL {
        return Vec::new();
    }
    let Ok(s) = Struct::decode(value) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (field, value) in s.fields {
        match value.kind {
            Some(Kind::ListValue(list)) => out.extend(
                list.values
                    .iter()
                    .filter_map(scalar)
                    .map(|v| (field.clone(), v)),
            ),
            kind => {
                if let Some(v) = scalar(&Value { kind }) {
                    out.push((field, v));
                }
            }
        }
    }
    out
}

fn scalar(value: &Value) -> Option<String> {
    match value.kind.as_ref()? {
        Kind::StringValue(s) => Some(s.clone()),
        Kind::NumberValue(n) => Some(n.to_string()),
        Kind::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `old` with the fields named by `paths` taken from `new` (a path absent in
/// `new` is removed). Both must be `google.protobuf.Struct`.
pub fn patch(old: &Data, new: &Data, paths: &[String]) -> Result<Data, StorageError> {
    if old.type_url != STRUCT_TYPE_URL || new.type_url != STRUCT_TYPE_URL {
        return Err(StorageError::InvalidArgument(format!(
            "patch supports only {STRUCT_TYPE_URL} data, not {:?}",
            new.type_url
        )));
    }
    let decode = |d: &Data| {
        Struct::decode(d.value.as_slice())
            .map_err(|e| StorageError::InvalidArgument(format!("undecodable struct data: {e}")))
    };
    let mut target = decode(old)?;
    let source = decode(new)?;
    for path in paths {
        let parts: Vec<&str> = path.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(StorageError::InvalidArgument(format!(
                "invalid field mask path {path:?}"
            )));
        }
        let value = lookup(&source, &parts).cloned();
        set(&mut target, &parts, value);
    }
    Ok(Data {
        type_url: STRUCT_TYPE_URL.to_owned(),
        value: target.encode_to_vec(),
    })
}

fn lookup<'a>(s: &'a Struct, parts: &[&str]) -> Option<&'a Value> {
    let (first, rest) = parts.split_first()?;
    let value = s.fields.get(*first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value.kind.as_ref()? {
        Kind::StructValue(inner) => lookup(inner, rest),
        _ => None,
    }
}

fn set(s: &mut Struct, parts: &[&str], value: Option<Value>) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    if rest.is_empty() {
        match value {
            Some(v) => s.fields.insert((*first).to_owned(), v),
            None => s.fields.remove(*first),
        };
        return;
    }
    let entry = s
        .fields
        .entry((*first).to_owned())
        .or_insert_with(|| Value {
            kind: Some(Kind::StructValue(Struct::default())),
        });
    if !matches!(entry.kind, Some(Kind::StructValue(_))) {
        entry.kind = Some(Kind::StructValue(Struct::default()));
    }
    if let Some(Kind::StructValue(inner)) = entry.kind.as_mut() {
        set(inner, rest, value);
    }
}

/// Builds `google.protobuf.Struct` data from string fields: handy for tests,
/// benches and simple record types.
pub fn struct_data<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Data {
    let s = Struct {
        fields: fields
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    Value {
                        kind: Some(Kind::StringValue(v.to_owned())),
                    },
                )
            })
            .collect(),
    };
    Data {
        type_url: STRUCT_TYPE_URL.to_owned(),
        value: s.encode_to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_fields_are_indexed() {
        let mut fields = index_fields(&struct_data([("user_id", "u1"), ("email", "a@b")]));
        fields.sort();
        assert_eq!(
            fields,
            vec![
                ("email".to_owned(), "a@b".to_owned()),
                ("user_id".to_owned(), "u1".to_owned())
            ]
        );
        let other = Data {
            type_url: "type.googleapis.com/x.Y".into(),
            value: vec![1, 2],
        };
        assert!(index_fields(&other).is_empty());
    }

    #[test]
    fn patch_replaces_only_masked_fields() {
        let old = struct_data([("a", "1"), ("b", "2"), ("c", "3")]);
        let new = struct_data([("a", "10"), ("b", "20")]);
        let out = patch(&old, &new, &["a".into(), "c".into()]).unwrap();
        let mut fields = index_fields(&out);
        fields.sort();
        assert_eq!(
            fields,
            vec![
                ("a".to_owned(), "10".to_owned()),
                ("b".to_owned(), "2".to_owned())
            ]
        );
    }

    #[test]
    fn patch_rejects_other_types() {
        let other = Data {
            type_url: "type.googleapis.com/x.Y".into(),
            value: vec![],
        };
        assert!(matches!(
            patch(&other, &other, &["a".into()]),
            Err(StorageError::InvalidArgument(_))
        ));
    }
}
