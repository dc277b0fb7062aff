//! The SQL engine's functions whose output size comes from an argument (`repeat`, `lpad`, `rpad`,
//! `array_repeat`, `range`, `generate_series`), wrapped so that a call whose result would exceed
//! the server's limit is refused before anything is allocated: SQLSTATE 54000, as Postgres refuses
//! strings over 1 GB ("requested length too large"). The limits are the runtime's, so a ksqlDB
//! query and a SQL one agree: strings of at most `MAX_BUILT_STRING_CHARS` characters, collections of
//! at most `MAX_BUILT_ELEMENTS` elements.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::kernels::length::length;
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::execution::FunctionRegistry as _;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;
use std::sync::atomic::Ordering::Relaxed;

use eddy_runtime::function::{MAX_BUILT_ELEMENTS, MAX_BUILT_STRING_CHARS};

/// How a function's output size follows from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Size {
    /// `repeat(text, n)`: the text's length (in bytes, at least its characters) times n.
    Repeat,
    /// `lpad(text, n [, fill])`, `rpad(...)`: n characters.
    Pad,
    /// `array_repeat(element, n)`: n elements.
    ArrayRepeat,
    /// `range(stop)`, `range(start, stop [, step])`, `generate_series(...)` over integers: the
    /// number of steps from start to stop.
    Series,
}

/// A function of DataFusion's with its output size checked before it runs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Bounded {
    inner: ScalarUDF,
    size: Size,
}

/// Wraps every size-bounded function registered on the context.
pub fn register(ctx: &SessionContext) {
    for (name, size) in [
        ("repeat", Size::Repeat),
        ("lpad", Size::Pad),
        ("rpad", Size::Pad),
        ("array_repeat", Size::ArrayRepeat),
        ("range", Size::Series),
        ("generate_series", Size::Series),
    ] {
        if let Some(inner) = ctx.udf(name).ok().map(|f| f.as_ref().clone()) {
            ctx.register_udf(ScalarUDF::new_from_impl(Bounded { inner, size }));
        }
    }
}

/// A call whose result would exceed a limit: SQLSTATE 54000 (`program_limit_exceeded`).
#[derive(Debug, thiserror::Error)]
#[error("{function}() would build {size} {unit}; at most {limit} are allowed")]
pub struct OutputTooLarge {
    pub function: String,
    pub size: i128,
    pub unit: &'static str,
    pub limit: usize,
}

fn too_large<T>(function: &str, size: i128, unit: &'static str, limit: usize) -> Result<T> {
    let e = OutputTooLarge { function: function.to_string(), size, unit, limit };
    Err(datafusion::common::DataFusionError::External(Box::new(e)))
}

/// The argument as 64-bit integers, one per row (a scalar is one row).
fn integers(arg: &ColumnarValue) -> Result<Option<ArrayRef>> {
    let array = match arg {
        ColumnarValue::Array(a) => a.clone(),
        ColumnarValue::Scalar(s) => s.to_array_of_size(1)?,
    };
    if !array.data_type().is_integer() {
        return Ok(None);
    }
    Ok(Some(arrow::compute::cast(&array, &DataType::Int64)?))
}

/// The largest value of an integer argument (0 when every value is NULL or it is no integer).
fn max_integer(arg: &ColumnarValue) -> Result<i128> {
    Ok(integers(arg)?
        .map(|a| a.as_primitive::<Int64Type>().iter().flatten().map(i128::from).max().unwrap_or(0))
        .unwrap_or(0))
}

/// The largest `length(text) * n` over the rows of `repeat(text, n)`.
fn repeated_chars(text: &ColumnarValue, count: &ColumnarValue, rows: usize) -> Result<i128> {
    let text = match text {
        ColumnarValue::Array(a) => a.clone(),
        ColumnarValue::Scalar(s) => s.to_array_of_size(1)?,
    };
    // Byte lengths (at least the characters): of the text as it is, or read as text.
    let lengths = match length(&text) {
        Ok(l) => l,
        Err(_) => length(&arrow::compute::cast(&text, &DataType::LargeUtf8)?)?,
    };
    let lengths = arrow::compute::cast(&lengths, &DataType::Int64)?;
    let lengths = lengths.as_primitive::<Int64Type>();
    let Some(counts) = integers(count)? else { return Ok(0) };
    let counts = counts.as_primitive::<Int64Type>();
    let at = |a: &arrow::array::Int64Array, i: usize| {
        let i = if a.len() == 1 { 0 } else { i };
        a.is_valid(i).then(|| i128::from(a.value(i)))
    };
    let mut largest = 0;
    for row in 0..rows.max(1) {
        if let (Some(l), Some(n)) = (at(lengths, row), at(counts, row)) {
            largest = largest.max(l * n);
        }
    }
    Ok(largest)
}

/// The largest number of steps of `range`/`generate_series` over integer arguments; temporal
/// series are checked from their literal bounds and step.
fn series_steps(args: &[ColumnarValue]) -> Result<i128> {
    let integer = |a: &ColumnarValue| integers(a).map(|a| a.is_some());
    if args.iter().all(|a| integer(a).unwrap_or(false)) {
        let (start, stop, step) = match args {
            [stop] => (0, max_integer(stop)?, 1),
            [start, stop] => (min_integer(start)?, max_integer(stop)?, 1),
            [start, stop, step] => {
                let step = min_abs_integer(step)?;
                let (lo, hi) =
                    (min_integer(start)?.min(min_integer(stop)?), max_integer(start)?.max(max_integer(stop)?));
                (lo, hi, step)
            }
            _ => return Ok(0),
        };
        return Ok(if step == 0 { 0 } else { (stop - start) / step });
    }
    // Dates and timestamps with an interval step, from literal arguments.
    let [ColumnarValue::Scalar(start), ColumnarValue::Scalar(stop), ColumnarValue::Scalar(step)] = args else {
        return Ok(0);
    };
    let nanos = |v: &ScalarValue| -> Option<i128> {
        match v {
            ScalarValue::Date32(Some(d)) => Some(i128::from(*d) * 86_400_000_000_000),
            ScalarValue::Date64(Some(ms)) => Some(i128::from(*ms) * 1_000_000),
            ScalarValue::TimestampSecond(Some(s), _) => Some(i128::from(*s) * 1_000_000_000),
            ScalarValue::TimestampMillisecond(Some(ms), _) => Some(i128::from(*ms) * 1_000_000),
            ScalarValue::TimestampMicrosecond(Some(us), _) => Some(i128::from(*us) * 1_000),
            ScalarValue::TimestampNanosecond(Some(ns), _) => Some(i128::from(*ns)),
            _ => None,
        }
    };
    let step_nanos = match step {
        ScalarValue::IntervalMonthDayNano(Some(i)) => {
            i128::from(i.months) * 28 * 86_400_000_000_000
                + i128::from(i.days) * 86_400_000_000_000
                + i128::from(i.nanoseconds)
        }
        ScalarValue::IntervalDayTime(Some(i)) => {
            i128::from(i.days) * 86_400_000_000_000 + i128::from(i.milliseconds) * 1_000_000
        }
        ScalarValue::IntervalYearMonth(Some(m)) => i128::from(*m) * 28 * 86_400_000_000_000,
        _ => return Ok(0),
    };
    match (nanos(start), nanos(stop)) {
        (Some(a), Some(b)) if step_nanos != 0 => Ok((b - a) / step_nanos),
        _ => Ok(0),
    }
}

fn min_integer(arg: &ColumnarValue) -> Result<i128> {
    Ok(integers(arg)?
        .map(|a| a.as_primitive::<Int64Type>().iter().flatten().map(i128::from).min().unwrap_or(0))
        .unwrap_or(0))
}

fn min_abs_integer(arg: &ColumnarValue) -> Result<i128> {
    Ok(integers(arg)?
        .map(|a| {
            a.as_primitive::<Int64Type>()
                .iter()
                .flatten()
                .map(|v| i128::from(v).abs())
                .filter(|v| *v > 0)
                .min()
                .unwrap_or(0)
        })
        .unwrap_or(0))
}

impl Bounded {
    /// Refuses the call when some row's result would exceed the limit.
    fn check(&self, args: &[ColumnarValue], rows: usize) -> Result<()> {
        let name = self.inner.name();
        let (chars_most, elements_most) = (MAX_BUILT_STRING_CHARS.load(Relaxed), MAX_BUILT_ELEMENTS.load(Relaxed));
        match (self.size, args) {
            (Size::Repeat, [text, count]) => {
                let chars = repeated_chars(text, count, rows)?;
                if chars > chars_most as i128 {
                    return too_large(name, chars, "characters", chars_most);
                }
            }
            (Size::Pad, [_, count, ..]) => {
                let chars = max_integer(count)?;
                if chars > chars_most as i128 {
                    return too_large(name, chars, "characters", chars_most);
                }
            }
            (Size::ArrayRepeat, [_, count]) => {
                let elements = max_integer(count)?;
                if elements > elements_most as i128 {
                    return too_large(name, elements, "elements", elements_most);
                }
            }
            (Size::Series, args) => {
                let elements = series_steps(args)?;
                if elements > elements_most as i128 {
                    return too_large(name, elements, "elements", elements_most);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<Arc<arrow::datatypes::Field>> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        self.inner.inner().simplify(args, info)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.check(&args.args, args.number_rows)?;
        self.inner.invoke_with_args(args)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};

    use super::*;

    fn bounded(size: Size) -> Bounded {
        Bounded { inner: datafusion::functions::string::repeat().as_ref().clone(), size }
    }

    fn text(s: &str) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s.into())))
    }

    fn int(n: i64) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(n)))
    }

    #[test]
    fn sizes_are_checked_per_row_before_the_call() {
        let repeat = bounded(Size::Repeat);
        assert!(repeat.check(&[text("ab"), int(1_000)], 1).is_ok());
        let e = repeat.check(&[text("ab"), int(1_000_000_000)], 1).expect_err("2 GB");
        assert!(matches!(e, datafusion::common::DataFusionError::External(ref inner) if inner.is::<OutputTooLarge>()));
        // Row by row: a long text repeated once and a short one repeated often are both fine.
        let texts = ColumnarValue::Array(Arc::new(StringArray::from(vec!["x".repeat(1 << 20), "ab".into()])));
        let counts = ColumnarValue::Array(Arc::new(Int64Array::from(vec![1, 1 << 20])));
        assert!(repeat.check(&[texts, counts], 2).is_ok());
        assert!(bounded(Size::Pad).check(&[text("x"), int(100_000_000)], 1).is_err());
        assert!(bounded(Size::Pad).check(&[text("x"), int(-5)], 1).is_ok());
        assert!(bounded(Size::ArrayRepeat).check(&[int(1), int(100_000_000)], 1).is_err());
        let series = bounded(Size::Series);
        assert!(series.check(&[int(1), int(10_000_000_000)], 1).is_err());
        assert!(series.check(&[int(1), int(10_000_000_000), int(1_000)], 1).is_ok());
        assert!(series.check(&[int(1), int(1_000)], 1).is_ok());
    }
}
