//! Accumulators: COUNT, SUM, SUM_LIST, MIN, MAX, AVG, COLLECT_LIST, COLLECT_SET, COUNT_DISTINCT,
//! HISTOGRAM, EARLIEST_BY_OFFSET and LATEST_BY_OFFSET.

use std::cmp::Ordering;

use eddy_catalog::SqlType;

use crate::value::Value;

/// Names of the aggregate functions Eddy implements.
pub const AGGREGATE_NAMES: &[&str] = &[
    "ATTR",
    "AVG",
    "COLLECT_LIST",
    "COLLECT_SET",
    "CORRELATION",
    "COUNT",
    "COUNT_DISTINCT",
    "EARLIEST_BY_OFFSET",
    "HISTOGRAM",
    "LATEST_BY_OFFSET",
    "MAX",
    "MIN",
    "STDDEV_SAMP",
    "STDDEV_SAMPLE",
    "SUM",
    "SUM_LIST",
    "TOPK",
    "TOPKDISTINCT",
];

/// How many values COLLECT_LIST and COLLECT_SET keep unless `ksql.functions.collect_list.limit` /
/// `ksql.functions.collect_set.limit` say otherwise (ksqlDB's default).
pub const DEFAULT_COLLECT_LIMIT: usize = 1000;

/// Distinct values HISTOGRAM counts; later ones are ignored (ksqlDB's limit).
pub const HISTOGRAM_LIMIT: usize = 1000;

/// An aggregate function bound to its argument type.
#[derive(Debug, Clone, PartialEq)]
pub enum AggregateFunction {
    /// COUNT(*) counts rows; COUNT(x) counts non-NULL values.
    Count {
        star: bool,
    },
    Sum(SqlType),
    /// The sum of the non-NULL elements of every row's array (ksqlDB's `ListSumUdaf`), of INT,
    /// BIGINT or DOUBLE elements.
    SumList(SqlType),
    /// How many times each text occurred, at most [`HISTOGRAM_LIMIT`] distinct ones (ksqlDB's
    /// `HistogramUdaf`), as a map in the order Java's `HashMap` iterates it.
    Histogram,
    Min(SqlType),
    Max(SqlType),
    Avg,
    /// Pearson's correlation of the pairs where both values are non-NULL (NaN below two pairs).
    Correlation,
    /// The sample standard deviation of the non-NULL values (0 below two), computed as ksqlDB does:
    /// count, sum and the sum of squared differences updated per value. ksqlDB's STDDEV_SAMP
    /// returns the sample variance (`root` false), STDDEV_SAMPLE its square root.
    StddevSamp {
        root: bool,
    },
    /// The value every row had (NULL counts as a value), or NULL once two rows differ.
    Attr,
    /// Values in arrival order (NULLs too), at most `limit` of them.
    CollectList {
        limit: usize,
    },
    /// Distinct values in order of first arrival, at most `limit` of them.
    CollectSet {
        limit: usize,
    },
    CountDistinct,
    /// The first (last) value by arrival, or with `n` the first (last) n as an array; NULLs are
    /// skipped when `ignore_nulls`.
    EarliestByOffset {
        n: Option<usize>,
        ignore_nulls: bool,
    },
    LatestByOffset {
        n: Option<usize>,
        ignore_nulls: bool,
    },
    /// The `k` greatest values (NULLs skipped), greatest first; with `extra` more columns, each as
    /// `STRUCT<sort_col, col0, ...>`; TOPKDISTINCT keeps equal values once.
    TopK {
        k: usize,
        distinct: bool,
        extra: usize,
    },
}

/// TOPK / TOPKDISTINCT over `types` (the sorted column, then columns carried along) keeping `k`.
pub fn resolve_topk(name: &str, types: &[SqlType], k: i64) -> Result<(AggregateFunction, SqlType), String> {
    let Some((sort, extra)) = types.split_first() else {
        return Err(format!("{name} needs a column to sort by"));
    };
    let comparable =
        sort.is_numeric() || matches!(sort, SqlType::String | SqlType::Date | SqlType::Time | SqlType::Timestamp);
    if !comparable || (name == "TOPKDISTINCT" && !extra.is_empty()) {
        return Err(format!(
            "Function '{name}' does not accept parameters ({}, INTEGER)",
            types.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    if !(1..=1_000_000).contains(&k) {
        return Err(format!("{name} must be called with a positive number of values, got {k}"));
    }
    let item = if extra.is_empty() {
        sort.clone()
    } else {
        let mut fields = vec![("sort_col".to_string(), sort.clone())];
        fields.extend(extra.iter().enumerate().map(|(i, t)| (format!("col{i}"), t.clone())));
        SqlType::Struct(fields)
    };
    let function = AggregateFunction::TopK { k: k as usize, distinct: name == "TOPKDISTINCT", extra: extra.len() };
    Ok((function, SqlType::Array(Box::new(item))))
}

/// EARLIEST_BY_OFFSET / LATEST_BY_OFFSET of a `ty` column with their literal parameters: how many
/// values (`n`, giving an array) and whether NULLs are skipped (default true).
pub fn resolve_offset_aggregate(
    name: &str,
    ty: &SqlType,
    n: Option<i64>,
    ignore_nulls: Option<bool>,
) -> Result<(AggregateFunction, SqlType), String> {
    let n = match n {
        None => None,
        Some(n) if n > 0 && n <= 1_000_000 => Some(n as usize),
        Some(n) => return Err(format!("{name} must be called with a positive number of values, got {n}")),
    };
    let ignore_nulls = ignore_nulls.unwrap_or(true);
    let function = match name {
        "EARLIEST_BY_OFFSET" => AggregateFunction::EarliestByOffset { n, ignore_nulls },
        "LATEST_BY_OFFSET" => AggregateFunction::LatestByOffset { n, ignore_nulls },
        other => return Err(format!("{other} takes no literal parameters")),
    };
    let ret = if n.is_some() { SqlType::Array(Box::new(ty.clone())) } else { ty.clone() };
    Ok((function, ret))
}

/// Resolves an aggregate call: the function and its result type.
pub fn resolve_aggregate(
    name: &str,
    args: &[SqlType],
    star: bool,
) -> Option<Result<(AggregateFunction, SqlType), String>> {
    let bad = || {
        Err(format!(
            "Function '{name}' does not accept parameters ({})",
            args.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
        ))
    };
    let comparable = |t: &SqlType| {
        t.is_numeric()
            || matches!(
                t,
                SqlType::String
                    | SqlType::Date
                    | SqlType::Time
                    | SqlType::Timestamp
                    | SqlType::Bytes
                    | SqlType::Boolean
            )
    };
    Some(match (name, args) {
        ("COUNT", _) if star => Ok((AggregateFunction::Count { star: true }, SqlType::Bigint)),
        ("COUNT", [_]) => Ok((AggregateFunction::Count { star: false }, SqlType::Bigint)),
        ("SUM", [t]) if t.is_numeric() => Ok((AggregateFunction::Sum(t.clone()), t.clone())),
        ("SUM_LIST", [SqlType::Array(t)]) if matches!(**t, SqlType::Int | SqlType::Bigint | SqlType::Double) => {
            Ok((AggregateFunction::SumList((**t).clone()), (**t).clone()))
        }
        ("HISTOGRAM", [SqlType::String]) => {
            Ok((AggregateFunction::Histogram, SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Bigint))))
        }
        ("MIN", [t]) if comparable(t) => Ok((AggregateFunction::Min(t.clone()), t.clone())),
        ("MAX", [t]) if comparable(t) => Ok((AggregateFunction::Max(t.clone()), t.clone())),
        ("AVG", [t]) if t.is_numeric() => Ok((AggregateFunction::Avg, SqlType::Double)),
        ("CORRELATION", [x, y]) if x.is_numeric() && y.is_numeric() => {
            Ok((AggregateFunction::Correlation, SqlType::Double))
        }
        ("STDDEV_SAMP" | "STDDEV_SAMPLE", [t]) if t.is_numeric() => {
            Ok((AggregateFunction::StddevSamp { root: name == "STDDEV_SAMPLE" }, SqlType::Double))
        }
        ("ATTR", [t]) => Ok((AggregateFunction::Attr, t.clone())),
        ("COLLECT_LIST", [t]) => {
            Ok((AggregateFunction::CollectList { limit: DEFAULT_COLLECT_LIMIT }, SqlType::Array(Box::new(t.clone()))))
        }
        ("COLLECT_SET", [t]) => {
            Ok((AggregateFunction::CollectSet { limit: DEFAULT_COLLECT_LIMIT }, SqlType::Array(Box::new(t.clone()))))
        }
        ("COUNT_DISTINCT", [_]) => Ok((AggregateFunction::CountDistinct, SqlType::Bigint)),
        ("EARLIEST_BY_OFFSET" | "LATEST_BY_OFFSET", [t]) => resolve_offset_aggregate(name, t, None, None),
        (n, _) if AGGREGATE_NAMES.contains(&n) => bad(),
        _ => return None,
    })
}

/// The running state of one aggregate for one group.
#[derive(Debug, Clone)]
pub enum Accumulator {
    Count(i64),
    Sum(Value),
    Extreme(Value),
    Avg {
        sum: f64,
        count: i64,
    },
    /// n, Σx, Σy, Σxy, Σx², Σy² (boxed: rarely used, and it would double every accumulator's size).
    Moments(Box<[f64; 6]>),
    List(Vec<Value>),
    Set(Vec<Value>),
    /// The first (last) non-NULL value and the sequence number of the row it came from, so that
    /// merged sessions keep the earliest (latest) one.
    Earliest(Option<(u64, Value)>),
    Latest(Option<(u64, Value)>),
    /// The first (last) n values with their sequence numbers, in arrival order.
    Offsets(Vec<(u64, Value)>),
    /// ATTR: the first row's value, and whether a later row differed.
    Attr {
        first: Option<Value>,
        mixed: bool,
    },
    /// HISTOGRAM: each value's count in order of insertion, and the most entries it ever held
    /// (which sizes Java's table, hence its iteration order).
    Histogram {
        counts: Vec<(Value, i64)>,
        most: usize,
    },
}

/// Adds `n` to a HISTOGRAM's count of `key`, unless it is a new key past [`HISTOGRAM_LIMIT`].
fn histogram_add(counts: &mut Vec<(Value, i64)>, most: &mut usize, key: Value, n: i64) {
    if let Some((_, count)) = counts.iter_mut().find(|(k, _)| *k == key) {
        *count += n;
    } else if counts.len() < HISTOGRAM_LIMIT {
        counts.push((key, n));
        *most = (*most).max(counts.len());
    }
}

/// Java's `String.hashCode` (over UTF-16 code units) spread as `HashMap` spreads it.
fn java_string_hash(s: &str) -> u32 {
    let h = s.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)));
    let h = h as u32;
    h ^ (h >> 16)
}

/// The entries in the order a Java `HashMap` that held at most `most` of them, inserted in this
/// order, iterates them: by bucket (hash modulo the table's size: 16, doubled past 3/4 full), then
/// by insertion. A NULL key hashes to 0.
fn java_hash_map_order(entries: &[(Value, i64)], most: usize) -> Vec<(Value, Value)> {
    let mut table = 16usize;
    while most > table / 4 * 3 {
        table *= 2;
    }
    let bucket = |k: &Value| match k {
        Value::String(s) => java_string_hash(s) as usize & (table - 1),
        _ => 0,
    };
    let mut ordered: Vec<&(Value, i64)> = entries.iter().collect();
    ordered.sort_by_key(|(k, _)| bucket(k));
    ordered.into_iter().map(|(k, n)| (k.clone(), Value::Bigint(*n))).collect()
}

fn add(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Null, x) | (x, Value::Null) => x.clone(),
        (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_add(*y)),
        (Value::Bigint(x), Value::Bigint(y)) => Value::Bigint(x.wrapping_add(*y)),
        (Value::Double(x), Value::Double(y)) => Value::Double(x + y),
        (Value::Decimal(x), Value::Decimal(y)) => Value::Decimal(x + y),
        (x, _) => x.clone(),
    }
}

/// Adds (`sign` 1) or removes (-1) the pair `(x, y)` of a CORRELATION, unless either is NULL.
fn add_pair(m: &mut [f64; 6], args: &[Value], sign: f64) {
    let number = |v: Option<&Value>| match v {
        Some(Value::Decimal(d)) => Some(*d as f64),
        Some(other) => as_f64(other),
        None => None,
    };
    if let (Some(x), Some(y)) = (number(args.first()), number(args.get(1))) {
        for (slot, v) in m.iter_mut().zip([1.0, x, y, x * y, x * x, y * y]) {
            *slot += sign * v;
        }
    }
}

/// Adds (`sign` 1) or removes (-1) a value of a STDDEV_SAMP, kept as [count, sum, m2, ..] with
/// ksqlDB's update: delta = x·n − sum (after counting x), m2 += delta² / (n(n−1)).
fn add_deviation(m: &mut [f64; 6], arg: &Value, sign: f64) {
    let x = match arg {
        Value::Decimal(d) => *d as f64,
        other => match as_f64(other) {
            Some(x) => x,
            None => return,
        },
    };
    if sign > 0.0 {
        let n = m[0] + 1.0;
        let sum = m[1] + x;
        if n > 1.0 {
            let delta = x * n - sum;
            m[2] += delta * delta / (n * (n - 1.0));
        }
        m[0] = n;
        m[1] = sum;
    } else if m[0] > 0.0 {
        let (n, sum) = (m[0], m[1]);
        if n > 1.0 {
            let delta = x * n - sum;
            m[2] -= delta * delta / (n * (n - 1.0));
        } else {
            m[2] = 0.0;
        }
        m[0] = n - 1.0;
        m[1] = sum - x;
    }
}

/// Equality of values where maps are unordered (a map's entries may arrive in any order).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.iter().any(|(k2, v2)| k == k2 && same(v, v2)))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Struct(x), Value::Struct(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((n, p), (m, q))| n == m && same(p, q))
        }
        _ => a == b,
    }
}

/// The value TOPK sorts by: the item, or its `sort_col`.
fn sort_value(v: &Value) -> &Value {
    match v {
        Value::Struct(fields) => fields.first().map(|(_, v)| v).unwrap_or(v),
        other => other,
    }
}

/// Inserts into a list kept greatest first and at most `k` long (after the items it equals).
fn top_k_insert(items: &mut Vec<Value>, item: Value, k: usize, distinct: bool) {
    let key = sort_value(&item);
    if distinct && items.iter().any(|v| compare(sort_value(v), key) == Some(Ordering::Equal)) {
        return;
    }
    let at = items.iter().position(|v| compare(key, sort_value(v)) == Some(Ordering::Greater)).unwrap_or(items.len());
    if at < k {
        items.insert(at, item);
        items.truncate(k);
    }
}

fn subtract(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (x, Value::Null) => x.clone(),
        (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_sub(*y)),
        (Value::Bigint(x), Value::Bigint(y)) => Value::Bigint(x.wrapping_sub(*y)),
        (Value::Double(x), Value::Double(y)) => Value::Double(x - y),
        (Value::Decimal(x), Value::Decimal(y)) => Value::Decimal(x - y),
        (x, _) => x.clone(),
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Bigint(x), Value::Bigint(y)) | (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::Double(x), Value::Double(y)) => x.partial_cmp(y),
        (Value::Decimal(x), Value::Decimal(y)) => Some(x.cmp(y)),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.cmp(y)),
        (Value::Boolean(x), Value::Boolean(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) | (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(x) => Some(*x as f64),
        Value::Bigint(x) => Some(*x as f64),
        Value::Double(x) => Some(*x),
        _ => None,
    }
}

impl AggregateFunction {
    /// The accumulator of a new group.
    pub fn init(&self) -> Accumulator {
        match self {
            Self::Count { .. } => Accumulator::Count(0),
            Self::CountDistinct => Accumulator::Set(Vec::new()),
            Self::Sum(t) | Self::SumList(t) => Accumulator::Sum(match t {
                SqlType::Int => Value::Int(0),
                SqlType::Bigint => Value::Bigint(0),
                SqlType::Double => Value::Double(0.0),
                SqlType::Decimal { .. } => Value::Decimal(0),
                _ => Value::Null,
            }),
            Self::Min(_) | Self::Max(_) => Accumulator::Extreme(Value::Null),
            Self::Avg => Accumulator::Avg { sum: 0.0, count: 0 },
            Self::Correlation | Self::StddevSamp { .. } => Accumulator::Moments(Box::new([0.0; 6])),
            Self::Attr => Accumulator::Attr { first: None, mixed: false },
            Self::Histogram => Accumulator::Histogram { counts: Vec::new(), most: 0 },
            Self::CollectList { .. } => Accumulator::List(Vec::new()),
            Self::CollectSet { .. } => Accumulator::Set(Vec::new()),
            Self::TopK { .. } => Accumulator::List(Vec::new()),
            Self::EarliestByOffset { n: Some(_), .. } | Self::LatestByOffset { n: Some(_), .. } => {
                Accumulator::Offsets(Vec::new())
            }
            Self::EarliestByOffset { .. } => Accumulator::Earliest(None),
            Self::LatestByOffset { .. } => Accumulator::Latest(None),
        }
    }

    /// Folds one row's arguments into the accumulator; `seq` numbers rows in arrival order.
    pub fn update(&self, acc: &mut Accumulator, args: &[Value], seq: u64) {
        let arg = args.first().cloned().unwrap_or(Value::Null);
        match (self, acc) {
            (Self::Correlation, Accumulator::Moments(m)) => add_pair(m, args, 1.0),
            (Self::StddevSamp { .. }, Accumulator::Moments(m)) => add_deviation(m, &arg, 1.0),
            (Self::Attr, Accumulator::Attr { first, mixed }) => match first {
                None => *first = Some(arg),
                Some(v) if *v != arg => *mixed = true,
                Some(_) => {}
            },
            (Self::Count { star: true }, Accumulator::Count(n)) => *n += 1,
            (Self::Count { star: false }, Accumulator::Count(n)) if !arg.is_null() => *n += 1,
            (Self::Sum(_), Accumulator::Sum(s)) => *s = add(s, &arg),
            (Self::SumList(_), Accumulator::Sum(s)) => {
                if let Value::Array(items) = &arg {
                    items.iter().for_each(|v| *s = add(s, v));
                }
            }
            // ksqlDB's map cannot key a NULL in any format: NULLs are not counted.
            (Self::Histogram, Accumulator::Histogram { counts, most }) if !arg.is_null() => {
                histogram_add(counts, most, arg, 1)
            }
            (Self::Min(_), Accumulator::Extreme(m))
                if !arg.is_null() && (m.is_null() || compare(&arg, m) == Some(Ordering::Less)) =>
            {
                *m = arg
            }
            (Self::Max(_), Accumulator::Extreme(m))
                if !arg.is_null() && (m.is_null() || compare(&arg, m) == Some(Ordering::Greater)) =>
            {
                *m = arg
            }
            (Self::Avg, Accumulator::Avg { sum, count }) => {
                let x = match &arg {
                    Value::Decimal(d) => Some(*d as f64),
                    other => as_f64(other),
                };
                if let Some(x) = x {
                    *sum += x;
                    *count += 1;
                }
            }
            (Self::TopK { k, distinct, extra }, Accumulator::List(items)) if !arg.is_null() => {
                let item = if *extra == 0 {
                    arg
                } else {
                    let mut fields = vec![("sort_col".to_string(), arg)];
                    fields.extend(args[1..].iter().enumerate().map(|(i, v)| (format!("col{i}"), v.clone())));
                    Value::Struct(fields)
                };
                top_k_insert(items, item, *k, *distinct);
            }
            (Self::CollectList { limit }, Accumulator::List(items)) if items.len() < *limit => items.push(arg),
            (Self::CollectSet { limit }, Accumulator::Set(items))
                if items.len() < *limit && !items.iter().any(|v| same(v, &arg)) =>
            {
                items.push(arg)
            }
            (Self::CountDistinct, Accumulator::Set(items)) if !arg.is_null() && !items.contains(&arg) => {
                items.push(arg)
            }
            (Self::EarliestByOffset { ignore_nulls, .. }, Accumulator::Earliest(first))
                if first.is_none() && !(arg.is_null() && *ignore_nulls) =>
            {
                *first = Some((seq, arg))
            }
            (Self::LatestByOffset { ignore_nulls, .. }, Accumulator::Latest(last))
                if !(arg.is_null() && *ignore_nulls) =>
            {
                *last = Some((seq, arg))
            }
            (Self::EarliestByOffset { n: Some(n), ignore_nulls }, Accumulator::Offsets(items))
                if items.len() < *n && !(arg.is_null() && *ignore_nulls) =>
            {
                items.push((seq, arg))
            }
            (Self::LatestByOffset { n: Some(n), ignore_nulls }, Accumulator::Offsets(items))
                if !(arg.is_null() && *ignore_nulls) =>
            {
                items.push((seq, arg));
                if items.len() > *n {
                    items.remove(0);
                }
            }
            _ => {}
        }
    }

    /// Whether the function can take a row back out (aggregations over tables need it).
    pub fn supports_undo(&self) -> bool {
        matches!(
            self,
            Self::Count { .. }
                | Self::Sum(_)
                | Self::SumList(_)
                | Self::Histogram
                | Self::Avg
                | Self::Correlation
                | Self::StddevSamp { .. }
                | Self::CollectList { .. }
                | Self::CollectSet { .. }
        )
    }

    /// Takes one row's arguments back out of the accumulator (a table row that changed or left).
    pub fn undo(&self, acc: &mut Accumulator, args: &[Value]) {
        let arg = args.first().cloned().unwrap_or(Value::Null);
        match (self, acc) {
            (Self::Correlation, Accumulator::Moments(m)) => add_pair(m, args, -1.0),
            (Self::StddevSamp { .. }, Accumulator::Moments(m)) => add_deviation(m, &arg, -1.0),
            (Self::Count { star: true }, Accumulator::Count(n)) => *n -= 1,
            (Self::Count { star: false }, Accumulator::Count(n)) if !arg.is_null() => *n -= 1,
            (Self::Sum(_), Accumulator::Sum(s)) => *s = subtract(s, &arg),
            (Self::SumList(_), Accumulator::Sum(s)) => {
                if let Value::Array(items) = &arg {
                    items.iter().for_each(|v| *s = subtract(s, v));
                }
            }
            (Self::Histogram, Accumulator::Histogram { counts, .. }) => {
                if let Some(i) = counts.iter().position(|(k, _)| *k == arg) {
                    if let Some((_, n)) = counts.get_mut(i) {
                        *n -= 1;
                        if *n < 1 {
                            counts.remove(i);
                        }
                    }
                }
            }
            (Self::Avg, Accumulator::Avg { sum, count }) => {
                let x = match &arg {
                    Value::Decimal(d) => Some(*d as f64),
                    other => as_f64(other),
                };
                if let Some(x) = x {
                    *sum -= x;
                    *count -= 1;
                }
            }
            (
                Self::CollectList { .. } | Self::CollectSet { .. },
                Accumulator::List(items) | Accumulator::Set(items),
            ) => {
                if let Some(i) = items.iter().position(|v| *v == arg) {
                    items.remove(i);
                }
            }
            _ => {}
        }
    }

    /// Folds another accumulator of the same function into this one (merging session windows).
    pub fn merge(&self, acc: &mut Accumulator, other: &Accumulator) {
        match (acc, other) {
            (Accumulator::Count(a), Accumulator::Count(b)) => *a += b,
            (Accumulator::Sum(a), Accumulator::Sum(b)) => *a = add(a, b),
            (Accumulator::Extreme(a), Accumulator::Extreme(b)) => {
                let wanted = if matches!(self, Self::Min(_)) { Ordering::Less } else { Ordering::Greater };
                if !b.is_null() && (a.is_null() || compare(b, a) == Some(wanted)) {
                    *a = b.clone();
                }
            }
            (Accumulator::Moments(a), Accumulator::Moments(b)) if matches!(self, Self::StddevSamp { .. }) => {
                // Two groups' squared differences, plus the one between their means.
                let (na, nb) = (a[0], b[0]);
                if na > 0.0 && nb > 0.0 {
                    let d = a[1] / na - b[1] / nb;
                    a[2] += b[2] + d * d * na * nb / (na + nb);
                } else {
                    a[2] += b[2];
                }
                a[0] += nb;
                a[1] += b[1];
            }
            (Accumulator::Moments(a), Accumulator::Moments(b)) => a.iter_mut().zip(b.iter()).for_each(|(x, y)| *x += y),
            (Accumulator::Attr { first, mixed }, Accumulator::Attr { first: f, mixed: m }) => {
                *mixed |= *m;
                match (first.as_ref(), f) {
                    (None, _) => *first = f.clone(),
                    (Some(a), Some(b)) if a != b => *mixed = true,
                    _ => {}
                }
            }
            (Accumulator::Avg { sum, count }, Accumulator::Avg { sum: s, count: c }) => {
                *sum += s;
                *count += c;
            }
            (Accumulator::Histogram { counts, most }, Accumulator::Histogram { counts: other, .. }) => {
                for (k, n) in other {
                    histogram_add(counts, most, k.clone(), *n);
                }
            }
            (Accumulator::List(a), Accumulator::List(b)) => match self {
                Self::TopK { k, distinct, .. } => b.iter().for_each(|v| top_k_insert(a, v.clone(), *k, *distinct)),
                Self::CollectList { limit } => a.extend(b.iter().take(limit.saturating_sub(a.len())).cloned()),
                _ => a.extend(b.iter().cloned()),
            },
            (Accumulator::Set(a), Accumulator::Set(b)) => {
                let limit = match self {
                    Self::CollectSet { limit } => *limit,
                    _ => usize::MAX,
                };
                for v in b {
                    if a.len() < limit && !a.iter().any(|x| same(x, v)) {
                        a.push(v.clone());
                    }
                }
            }
            (Accumulator::Offsets(a), Accumulator::Offsets(b)) => {
                a.extend(b.iter().cloned());
                a.sort_by_key(|(seq, _)| *seq);
                let n = match self {
                    Self::EarliestByOffset { n: Some(n), .. } | Self::LatestByOffset { n: Some(n), .. } => *n,
                    _ => a.len(),
                };
                if a.len() > n {
                    if matches!(self, Self::EarliestByOffset { .. }) {
                        a.truncate(n);
                    } else {
                        a.drain(..a.len() - n);
                    }
                }
            }
            (Accumulator::Earliest(a), Accumulator::Earliest(Some(b)))
                if a.as_ref().is_none_or(|(seq, _)| b.0 < *seq) =>
            {
                *a = Some(b.clone())
            }
            (Accumulator::Latest(a), Accumulator::Latest(Some(b))) if a.as_ref().is_none_or(|(seq, _)| b.0 > *seq) => {
                *a = Some(b.clone())
            }
            _ => {}
        }
    }

    /// The current result.
    pub fn result(&self, acc: &Accumulator) -> Value {
        match acc {
            Accumulator::Count(n) => Value::Bigint(*n),
            Accumulator::Set(items) if *self == Self::CountDistinct => Value::Bigint(items.len() as i64),
            Accumulator::Sum(v) | Accumulator::Extreme(v) => v.clone(),
            Accumulator::Avg { sum, count } => {
                if *count == 0 {
                    Value::Double(0.0)
                } else {
                    Value::Double(sum / *count as f64)
                }
            }
            Accumulator::List(items) | Accumulator::Set(items) => Value::Array(items.clone()),
            Accumulator::Offsets(items) => Value::Array(items.iter().map(|(_, v)| v.clone()).collect()),
            Accumulator::Moments(m) if matches!(self, Self::StddevSamp { .. }) => {
                let (n, m2) = (m[0], m[2]);
                let variance = if n < 2.0 { 0.0 } else { m2 / (n - 1.0) };
                Value::Double(if *self == (Self::StddevSamp { root: true }) { variance.sqrt() } else { variance })
            }
            Accumulator::Histogram { counts, most } => Value::Map(java_hash_map_order(counts, *most)),
            Accumulator::Attr { first, mixed } => match first {
                Some(v) if !mixed => v.clone(),
                _ => Value::Null,
            },
            Accumulator::Moments(m) => {
                let [n, sx, sy, sxy, sxx, syy] = **m;
                let denominator = ((n * sxx - sx * sx) * (n * syy - sy * sy)).sqrt();
                Value::Double(if n < 2.0 || denominator == 0.0 { f64::NAN } else { (n * sxy - sx * sy) / denominator })
            }
            Accumulator::Earliest(v) | Accumulator::Latest(v) => {
                v.as_ref().map(|(_, v)| v.clone()).unwrap_or(Value::Null)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(f: &AggregateFunction, values: &[Value]) -> Accumulator {
        let mut acc = f.init();
        for (seq, v) in values.iter().enumerate() {
            f.update(&mut acc, std::slice::from_ref(v), seq as u64);
        }
        acc
    }

    #[test]
    fn histogram_counts_texts_and_iterates_as_java_hash_map() {
        let s = |t: &str| Value::String(t.into());
        let f = AggregateFunction::Histogram;
        let mut acc = fold(&f, &[s("c"), s("b"), s("a"), s("BB"), Value::Null, s("Aa"), s("a")]);
        // Java: "a".."c" hash to 97..99 (buckets 1..3); "Aa" and "BB" both hash to 2112 (bucket 0),
        // kept in insertion order.
        let entries = |acc: &Accumulator| match f.result(acc) {
            Value::Map(m) => m,
            other => panic!("{other:?}"),
        };
        let n = Value::Bigint;
        assert_eq!(
            entries(&acc),
            vec![(s("BB"), n(1)), (s("Aa"), n(1)), (s("a"), n(2)), (s("b"), n(1)), (s("c"), n(1))]
        );
        f.undo(&mut acc, &[Value::Null]);
        f.undo(&mut acc, &[s("BB")]);
        f.undo(&mut acc, &[s("a")]);
        assert_eq!(entries(&acc), vec![(s("Aa"), n(1)), (s("a"), n(1)), (s("b"), n(1)), (s("c"), n(1))]);
        // At most 1000 distinct texts; known ones still count.
        let many: Vec<Value> = (0..1100).map(|i| s(&i.to_string())).chain([s("5")]).collect();
        let acc = fold(&f, &many);
        let counted = entries(&acc);
        assert_eq!(counted.len(), HISTOGRAM_LIMIT);
        assert!(counted.contains(&(s("5"), n(2))) && !counted.iter().any(|(k, _)| *k == s("1050")));
    }

    #[test]
    fn sum_list_adds_the_elements_and_takes_them_back() {
        let f = AggregateFunction::SumList(SqlType::Bigint);
        let list = |xs: &[Option<i64>]| Value::Array(xs.iter().map(|x| x.map_or(Value::Null, Value::Bigint)).collect());
        let mut acc = fold(&f, &[list(&[Some(1), Some(2)]), Value::Null, list(&[Some(4), None])]);
        assert_eq!(f.result(&acc), Value::Bigint(7));
        f.undo(&mut acc, &[list(&[Some(1), Some(2)])]);
        assert_eq!(f.result(&acc), Value::Bigint(4));
        assert_eq!(
            resolve_aggregate("SUM_LIST", &[SqlType::Array(Box::new(SqlType::Double))], false)
                .map(|r| r.map(|(_, t)| t)),
            Some(Ok(SqlType::Double))
        );
        assert!(matches!(resolve_aggregate("SUM_LIST", &[SqlType::Bigint], false), Some(Err(_))));
    }

    #[test]
    fn stddev_updates_undoes_and_merges_as_ksqldb_computes_it() {
        let sample = AggregateFunction::StddevSamp { root: true };
        let variance = AggregateFunction::StddevSamp { root: false };
        let xs: Vec<Value> = [10.0, 12.0, 13.0, 14.0, 16.0].into_iter().map(Value::Double).collect();
        assert_eq!(sample.result(&fold(&sample, &xs[..1])), Value::Double(0.0));
        assert_eq!(variance.result(&fold(&variance, &xs[..2])), Value::Double(2.0));
        assert_eq!(sample.result(&fold(&sample, &xs[..3])), Value::Double(1.5275252316519465));
        // Taking the last value back out gives the state before it.
        let mut acc = fold(&sample, &xs[..4]);
        sample.undo(&mut acc, &xs[3..4]);
        let Value::Double(after_undo) = sample.result(&acc) else { panic!() };
        assert!((after_undo - 1.5275252316519465).abs() < 1e-12);
        // Merging two halves equals folding everything.
        let mut left = fold(&sample, &xs[..2]);
        sample.merge(&mut left, &fold(&sample, &xs[2..]));
        let (Value::Double(merged), Value::Double(all)) = (sample.result(&left), sample.result(&fold(&sample, &xs)))
        else {
            panic!()
        };
        assert!((merged - all).abs() < 1e-12);
    }

    #[test]
    fn collections_stop_at_their_limit() {
        let list = AggregateFunction::CollectList { limit: 2 };
        let set = AggregateFunction::CollectSet { limit: 2 };
        let xs: Vec<Value> = [1, 1, 2, 3].into_iter().map(Value::Int).collect();
        assert_eq!(list.result(&fold(&list, &xs)), Value::Array(vec![Value::Int(1), Value::Int(1)]));
        assert_eq!(set.result(&fold(&set, &xs)), Value::Array(vec![Value::Int(1), Value::Int(2)]));
        let map = |e: &[(i32, i32)]| Value::Map(e.iter().map(|(k, v)| (Value::Int(*k), Value::Int(*v))).collect());
        let maps = [map(&[(1, 2), (3, 4)]), map(&[(3, 4), (1, 2)])];
        assert_eq!(set.result(&fold(&set, &maps)), Value::Array(vec![maps[0].clone()]));
        let mut merged = fold(&list, &xs[..1]);
        list.merge(&mut merged, &fold(&list, &xs[2..]));
        assert_eq!(list.result(&merged), Value::Array(vec![Value::Int(1), Value::Int(2)]));
    }

    #[test]
    fn attr_keeps_the_one_value_or_gives_null() {
        let s = |v: &str| Value::String(v.to_string());
        let f = AggregateFunction::Attr;
        assert_eq!(f.result(&fold(&f, &[s("a"), s("a")])), s("a"));
        assert_eq!(f.result(&fold(&f, &[s("a"), Value::Null, s("a")])), Value::Null);
        assert_eq!(f.result(&fold(&f, &[Value::Null, s("b")])), Value::Null);
        assert_eq!(f.result(&f.init()), Value::Null);
        let mut a = fold(&f, &[s("a")]);
        f.merge(&mut a, &fold(&f, &[s("b")]));
        assert_eq!(f.result(&a), Value::Null);
    }
}
