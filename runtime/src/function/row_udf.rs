//! A DataFusion UDF that applies a row-wise function over `Value`s.

use arrow::datatypes::DataType;
use datafusion_common::Result;
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use eddy_catalog::{arrow_type, SqlType};

use crate::columnar::{array_value, values_to_array};
use crate::value::Value;

/// A function over one row's argument values; an error becomes NULL and a logged error.
pub type RowFn = fn(&[Value]) -> Result<Value, String>;

/// A ksqlDB function bound to argument types.
#[derive(Debug)]
pub struct RowUdf {
    name: String,
    args: Vec<SqlType>,
    ret: SqlType,
    f: RowFn,
    signature: Signature,
}

impl RowUdf {
    pub fn new(name: &str, args: Vec<SqlType>, ret: SqlType, f: RowFn) -> Self {
        let volatility = if super::is_volatile(name) { Volatility::Volatile } else { Volatility::Immutable };
        Self { name: name.to_string(), args, ret, f, signature: Signature::variadic_any(volatility) }
    }
}

// A function is determined by its name and argument types.
impl PartialEq for RowUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.args == other.args && self.ret == other.ret
    }
}

impl Eq for RowUdf {}

impl std::hash::Hash for RowUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.args.hash(state);
        self.ret.hash(state);
    }
}

impl ScalarUDFImpl for RowUdf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(arrow_type(&self.ret))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args.args.into_iter().map(|a| a.into_array(rows)).collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows);
        let mut row = Vec::with_capacity(arrays.len());
        for i in 0..rows {
            row.clear();
            row.extend(arrays.iter().map(|a| array_value(a.as_ref(), i)));
            out.push(
                (self.f)(&row)
                    .map_err(|e| datafusion_common::DataFusionError::Execution(format!("{}: {e}", self.name)))?,
            );
        }
        let array = values_to_array(&out, &self.ret)
            .map_err(|e| datafusion_common::DataFusionError::Execution(e.to_string()))?;
        Ok(ColumnarValue::Array(array))
    }
}
