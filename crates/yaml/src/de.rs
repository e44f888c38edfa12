//! A serde `Deserializer` over [`Node`] whose errors say where the bad value was written.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use crate::node::{Node, NodeKind, Origin, Resolved};

/// A value did not have the shape its key needs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct DeError {
    /// Where the offending value was written (the innermost node that failed).
    pub origin: Option<Origin>,
    /// What was wrong.
    pub message: String,
}

/// Deserializes `T` from a node.
pub fn from_node<'de, T: de::Deserialize<'de>>(node: &'de Node) -> Result<T, DeError> {
    T::deserialize(node).map_err(|e| e.at(&node.origin))
}

// === impl DeError ===

impl DeError {
    fn at(mut self, origin: &Origin) -> DeError {
        if self.origin.is_none() {
            self.origin = Some(origin.clone());
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            origin: None,
            message: msg.to_string(),
        }
    }
}

fn invalid(node: &Node, expected: &str) -> DeError {
    DeError {
        origin: Some(node.origin.clone()),
        message: format!("expected {expected}, found {}", node.describe()),
    }
}

// === impl Deserializer for &Node ===

impl<'de> Deserializer<'de> for &'de Node {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Scalar { .. } => match self.resolve() {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(i) => visitor.visit_i64(i),
                Resolved::Float(f) => visitor.visit_f64(f),
                Resolved::Str(s) => visitor.visit_borrowed_str(s),
            },
            NodeKind::Seq(items) => visitor.visit_seq(Seq(items.iter())),
            NodeKind::Map(entries) => visitor.visit_map(Map {
                entries: entries.iter(),
                value: None,
            }),
        };
        result.map_err(|e| e.at(&self.origin))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.resolve() {
            Resolved::Bool(b) if !self.is_null() => visitor.visit_bool(b),
            _ => Err(invalid(self, "true or false")),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.resolve() {
            Resolved::Int(i) if !self.is_null() => visitor
                .visit_i64(i)
                .map_err(|e: DeError| e.at(&self.origin)),
            _ => Err(invalid(self, "an integer")),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.resolve() {
            Resolved::Int(i) if !self.is_null() => visitor.visit_f64(i as f64),
            Resolved::Float(f) if !self.is_null() => visitor.visit_f64(f),
            _ => Err(invalid(self, "a number")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => visitor
                .visit_borrowed_str(text)
                .map_err(|e: DeError| e.at(&self.origin)),
            _ => Err(invalid(self, "a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.kind {
            NodeKind::Seq(items) => visitor
                .visit_seq(Seq(items.iter()))
                .map_err(|e| e.at(&self.origin)),
            _ => Err(invalid(self, "a list")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.kind {
            NodeKind::Map(entries) => visitor
                .visit_map(Map {
                    entries: entries.iter(),
                    value: None,
                })
                .map_err(|e| e.at(&self.origin)),
            _ => Err(invalid(self, "a mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => visitor
                .visit_enum(text.as_str().into_deserializer())
                .map_err(|e: DeError| e.at(&self.origin)),
            NodeKind::Map(entries) if entries.len() == 1 => visitor
                .visit_enum(Variant(&entries[0].0, &entries[0].1))
                .map_err(|e| e.at(&self.origin)),
            _ => Err(invalid(self, "one of the allowed names")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u128 f32 char bytes byte_buf unit unit_struct tuple
        tuple_struct
    }
}

struct Seq<'de>(std::slice::Iter<'de, Node>);

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.0.next() {
            None => Ok(None),
            Some(node) => seed
                .deserialize(node)
                .map(Some)
                .map_err(|e| e.at(&node.origin)),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Map<'de> {
    entries: std::slice::Iter<'de, (Node, Node)>,
    value: Option<&'de Node>,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            None => Ok(None),
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key)
                    .map(Some)
                    .map_err(|e| e.at(&key.origin))
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self
            .value
            .take()
            .ok_or_else(|| <DeError as de::Error>::custom("value without a key"))?;
        seed.deserialize(node).map_err(|e| e.at(&node.origin))
    }
}

struct Variant<'de>(&'de Node, &'de Node);

impl<'de> EnumAccess<'de> for Variant<'de> {
    type Error = DeError;
    type Variant = &'de Node;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, &'de Node), DeError> {
        Ok((seed.deserialize(self.0)?, self.1))
    }
}

impl<'de> VariantAccess<'de> for &'de Node {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }
}
