//! The key of an aggregation group in state: compact for the common single INT, BIGINT or STRING
//! key, and ordered as Kafka orders serialized keys (unsigned bytes), which is the order ksqlDB emits
//! windows that close together.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use arrow::array::{Array, Int32Array, Int64Array, StringArray};

use crate::columnar::array_value;
use crate::value::Value;

/// One group's key.
#[derive(Debug, Clone)]
pub enum GroupKey {
    Int(i32),
    Bigint(i64),
    Str(Box<str>),
    /// Any other key (several columns, other types): its values, compared by their debug text.
    Other(Box<(String, Vec<Value>)>),
}

impl GroupKey {
    /// The key of row `row` over the key columns; None when any key column is NULL.
    pub fn from_columns(columns: &[&dyn Array], row: usize) -> Option<GroupKey> {
        if columns.iter().any(|c| c.is_null(row)) {
            return None;
        }
        if let [column] = columns {
            let any = column.as_any();
            if let Some(a) = any.downcast_ref::<Int64Array>() {
                return Some(GroupKey::Bigint(a.value(row)));
            }
            if let Some(a) = any.downcast_ref::<Int32Array>() {
                return Some(GroupKey::Int(a.value(row)));
            }
            if let Some(a) = any.downcast_ref::<StringArray>() {
                return Some(GroupKey::Str(a.value(row).into()));
            }
        }
        Some(GroupKey::from_values(columns.iter().map(|c| array_value(*c, row)).collect()))
    }

    /// The key of any values (NULLs included), compared by their debug text.
    pub fn from_values(values: Vec<Value>) -> GroupKey {
        GroupKey::Other(Box::new((format!("{values:?}"), values)))
    }

    /// The key's values, one per key column.
    pub fn values(&self) -> Vec<Value> {
        match self {
            GroupKey::Int(v) => vec![Value::Int(*v)],
            GroupKey::Bigint(v) => vec![Value::Bigint(*v)],
            GroupKey::Str(s) => vec![Value::String(s.to_string())],
            GroupKey::Other(o) => o.1.clone(),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            GroupKey::Int(_) => 0,
            GroupKey::Bigint(_) => 1,
            GroupKey::Str(_) => 2,
            GroupKey::Other(_) => 3,
        }
    }
}

impl PartialEq for GroupKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for GroupKey {}

impl Hash for GroupKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            GroupKey::Int(v) => v.hash(state),
            GroupKey::Bigint(v) => v.hash(state),
            GroupKey::Str(s) => s.hash(state),
            GroupKey::Other(o) => o.0.hash(state),
        }
    }
}

impl PartialOrd for GroupKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for GroupKey {
    /// Big-endian two's complement compared as unsigned bytes puts negative numbers last.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (GroupKey::Int(a), GroupKey::Int(b)) => (*a as u32).cmp(&(*b as u32)),
            (GroupKey::Bigint(a), GroupKey::Bigint(b)) => (*a as u64).cmp(&(*b as u64)),
            (GroupKey::Str(a), GroupKey::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            (GroupKey::Other(a), GroupKey::Other(b)) => a.0.cmp(&b.0),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::ArrayRef;

    use super::*;

    #[test]
    fn keys_order_as_kafka_orders_serialized_keys() {
        let mut keys = [GroupKey::Bigint(-1), GroupKey::Bigint(7), GroupKey::Bigint(0)];
        keys.sort();
        let values: Vec<Vec<Value>> = keys.iter().map(GroupKey::values).collect();
        assert_eq!(values, vec![vec![Value::Bigint(0)], vec![Value::Bigint(7)], vec![Value::Bigint(-1)]]);
        assert!(GroupKey::Str("a".into()) < GroupKey::Str("b".into()));
    }

    #[test]
    fn keys_come_from_columns_and_null_keys_have_none() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(5), None]));
        let b: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), Some("y")]));
        assert_eq!(GroupKey::from_columns(&[a.as_ref()], 0), Some(GroupKey::Bigint(5)));
        assert_eq!(GroupKey::from_columns(&[a.as_ref()], 1), None);
        let two = GroupKey::from_columns(&[a.as_ref(), b.as_ref()], 0).map(|k| k.values());
        assert_eq!(two, Some(vec![Value::Bigint(5), Value::String("x".into())]));
        assert_eq!(GroupKey::from_columns(&[b.as_ref()], 1), Some(GroupKey::Str("y".into())));
    }
}
