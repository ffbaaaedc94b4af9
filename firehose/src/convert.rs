//! Record format conversion: JSON records to one Parquet file per buffer.
//!
//! The schema is declared (columns and types) or inferred from the first buffer.
//! A record that is not a JSON object, or whose value does not fit its column,
//! fails with a reason and goes to the error output; the others are written.

use crate::error::{Error, Result};
use arrow_array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Most columns of a schema.
pub const COLUMNS_MAX: usize = 1000;

/// Column types (the Glue/Hive names Firehose uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnType {
    /// `string`: UTF-8; other JSON scalars are written as their JSON text.
    String,
    /// `int`: 32-bit signed integer.
    Int,
    /// `bigint`: 64-bit signed integer.
    Bigint,
    /// `float`: 32-bit floating point.
    Float,
    /// `double`: 64-bit floating point.
    Double,
    /// `boolean`.
    Boolean,
}

impl ColumnType {
    /// The Glue/Hive name.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Int => "int",
            ColumnType::Bigint => "bigint",
            ColumnType::Float => "float",
            ColumnType::Double => "double",
            ColumnType::Boolean => "boolean",
        }
    }

    /// From the Glue/Hive name (case-insensitive; `long` and `bool` too).
    pub fn parse(name: &str) -> Result<ColumnType> {
        match name.to_ascii_lowercase().as_str() {
            "string" | "varchar" => Ok(ColumnType::String),
            "int" | "integer" => Ok(ColumnType::Int),
            "bigint" | "long" => Ok(ColumnType::Bigint),
            "float" => Ok(ColumnType::Float),
            "double" => Ok(ColumnType::Double),
            "boolean" | "bool" => Ok(ColumnType::Boolean),
            _ => Err(Error::InvalidArgument(format!(
                "Column type '{name}' is not one of string, int, bigint, float, double, boolean."
            ))),
        }
    }

    fn data_type(self) -> DataType {
        match self {
            ColumnType::String => DataType::Utf8,
            ColumnType::Int => DataType::Int32,
            ColumnType::Bigint => DataType::Int64,
            ColumnType::Float => DataType::Float32,
            ColumnType::Double => DataType::Float64,
            ColumnType::Boolean => DataType::Boolean,
        }
    }
}

/// One column of a declared or inferred schema. Every column is nullable: a
/// missing or null field is a null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The JSON field and Parquet column name.
    pub name: String,
    /// Its type.
    pub kind: ColumnType,
}

/// Parquet page compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParquetCompression {
    /// `UNCOMPRESSED`.
    Uncompressed,
    /// `SNAPPY` (Firehose's default).
    Snappy,
    /// `GZIP`.
    Gzip,
    /// `ZSTD`.
    Zstd,
}

impl ParquetCompression {
    /// The Firehose API name.
    pub fn wire_name(self) -> &'static str {
        match self {
            ParquetCompression::Uncompressed => "UNCOMPRESSED",
            ParquetCompression::Snappy => "SNAPPY",
            ParquetCompression::Gzip => "GZIP",
            ParquetCompression::Zstd => "ZSTD",
        }
    }

    /// From the Firehose API name.
    pub fn parse(name: &str) -> Result<ParquetCompression> {
        match name {
            "UNCOMPRESSED" => Ok(ParquetCompression::Uncompressed),
            "SNAPPY" => Ok(ParquetCompression::Snappy),
            "GZIP" => Ok(ParquetCompression::Gzip),
            "ZSTD" => Ok(ParquetCompression::Zstd),
            _ => Err(Error::InvalidArgument(format!(
                "Parquet Compression '{name}' is not one of UNCOMPRESSED, SNAPPY, GZIP, ZSTD."
            ))),
        }
    }

    fn codec(self) -> parquet::basic::Compression {
        use parquet::basic::{Compression as C, GzipLevel, ZstdLevel};
        match self {
            ParquetCompression::Uncompressed => C::UNCOMPRESSED,
            ParquetCompression::Snappy => C::SNAPPY,
            ParquetCompression::Gzip => C::GZIP(GzipLevel::default()),
            ParquetCompression::Zstd => C::ZSTD(ZstdLevel::default()),
        }
    }
}

/// Checks a declared schema: 1 to 1000 columns, unique non-empty names.
pub fn validate_columns(columns: &[Column]) -> Result<()> {
    if columns.is_empty() || columns.len() > COLUMNS_MAX {
        return Err(Error::InvalidArgument(format!(
            "A schema has 1 to {COLUMNS_MAX} columns, not {}.",
            columns.len()
        )));
    }
    let mut names = std::collections::BTreeSet::new();
    for column in columns {
        if column.name.is_empty() || !names.insert(column.name.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "Column names must be non-empty and unique: '{}'.",
                column.name
            )));
        }
    }
    Ok(())
}

/// A table of the local catalog, `<data-dir>/catalog/<database>/<table>.json`:
/// `{"columns": [{"name": "id", "type": "bigint"}, ...]}`. It stands in for the
/// Glue table that Firehose's SchemaConfiguration names.
#[derive(Debug, Deserialize)]
struct CatalogTable {
    columns: Vec<CatalogColumn>,
}

#[derive(Debug, Deserialize)]
struct CatalogColumn {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

/// The columns of `database`.`table` in the local catalog under `data_dir`;
/// `None` when the catalog has no such table (the schema is then inferred).
pub fn catalog_columns(
    data_dir: &std::path::Path,
    database: &str,
    table: &str,
) -> Result<Option<Vec<Column>>> {
    let plain = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            && name != ".."
    };
    if !plain(database) || !plain(table) {
        return Err(Error::InvalidArgument(format!(
            "DatabaseName '{database}' and TableName '{table}' must be [A-Za-z0-9_.-]."
        )));
    }
    let path = data_dir
        .join("catalog")
        .join(database)
        .join(format!("{table}.json"));
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(crate::error::io_err("read", &path)(error)),
    };
    let table: CatalogTable = serde_json::from_slice(&bytes).map_err(|error| {
        Error::InvalidArgument(format!("catalog table {}: {error}", path.display()))
    })?;
    let columns = table
        .columns
        .into_iter()
        .map(|c| {
            Ok(Column {
                name: c.name,
                kind: ColumnType::parse(&c.kind)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    validate_columns(&columns)?;
    Ok(Some(columns))
}

/// The columns of the JSON objects in `records`: fields in first-seen order,
/// typed by their first non-null value (an integer field that also holds
/// fractions becomes `double`; objects and arrays become `string`).
pub fn infer_columns<'a>(records: impl IntoIterator<Item = &'a [u8]>) -> Vec<Column> {
    let mut columns: Vec<Column> = Vec::new();
    for record in records {
        let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(record) else {
            continue;
        };
        for (name, value) in object {
            let kind = match &value {
                Value::Null => None,
                Value::Bool(_) => Some(ColumnType::Boolean),
                Value::Number(n) if n.is_i64() || n.is_u64() => Some(ColumnType::Bigint),
                Value::Number(_) => Some(ColumnType::Double),
                _ => Some(ColumnType::String),
            };
            let full = columns.len() >= COLUMNS_MAX;
            match columns.iter_mut().find(|c| c.name == name) {
                Some(c) if c.kind == ColumnType::Bigint && kind == Some(ColumnType::Double) => {
                    c.kind = ColumnType::Double;
                }
                Some(_) => {}
                None => {
                    if let (Some(kind), false) = (kind, full) {
                        columns.push(Column { name, kind });
                    }
                }
            }
        }
    }
    columns
}

/// A value checked against its column.
enum Cell {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

fn cell(column: &Column, value: Option<&Value>) -> std::result::Result<Cell, String> {
    let value = match value {
        None | Some(Value::Null) => return Ok(Cell::Null),
        Some(value) => value,
    };
    let mismatch = || {
        format!(
            "field '{}' holds {value} which is not a {}",
            column.name,
            column.kind.name()
        )
    };
    match column.kind {
        ColumnType::String => Ok(Cell::Text(match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })),
        ColumnType::Int => value
            .as_i64()
            .filter(|i| i32::try_from(*i).is_ok())
            .map(Cell::Int)
            .ok_or_else(mismatch),
        ColumnType::Bigint => value.as_i64().map(Cell::Int).ok_or_else(mismatch),
        ColumnType::Float | ColumnType::Double => {
            value.as_f64().map(Cell::Float).ok_or_else(mismatch)
        }
        ColumnType::Boolean => value.as_bool().map(Cell::Bool).ok_or_else(mismatch),
    }
}

fn row(columns: &[Column], record: &[u8]) -> std::result::Result<Vec<Cell>, String> {
    let object: Map<String, Value> = match serde_json::from_slice::<Value>(record) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err("the record is JSON but not an object".into()),
        Err(error) => return Err(format!("the record is not valid JSON: {error}")),
    };
    columns
        .iter()
        .map(|column| cell(column, object.get(&column.name)))
        .collect()
}

/// The outcome of converting one buffer.
#[derive(Debug)]
pub struct Converted {
    /// The Parquet file of the records that converted; `None` when none did.
    pub parquet: Option<Vec<u8>>,
    /// Index (in the input) and reason of each record that failed.
    pub failures: Vec<(usize, String)>,
}

/// Converts `records` (JSON objects) to one Parquet file with `columns`.
pub fn to_parquet(
    records: &[&[u8]],
    columns: &[Column],
    compression: ParquetCompression,
) -> Result<Converted> {
    let mut rows = Vec::with_capacity(records.len());
    let mut failures = Vec::new();
    for (index, record) in records.iter().enumerate() {
        match row(columns, record) {
            Ok(cells) => rows.push(cells),
            Err(reason) => failures.push((index, reason)),
        }
    }
    if rows.is_empty() {
        return Ok(Converted {
            parquet: None,
            failures,
        });
    }
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .enumerate()
        .map(|(index, column)| build_array(column.kind, rows.iter().map(|row| &row[index])))
        .collect();
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(&c.name, c.kind.data_type(), true))
            .collect::<Vec<_>>(),
    ));
    let parquet_error = |error: String| Error::Destination(format!("Parquet: {error}"));
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
        .map_err(|e| parquet_error(e.to_string()))?;
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_compression(compression.codec())
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema, Some(properties))
        .map_err(|e| parquet_error(e.to_string()))?;
    writer
        .write(&batch)
        .map_err(|e| parquet_error(e.to_string()))?;
    let parquet = writer
        .into_inner()
        .map_err(|e| parquet_error(e.to_string()))?;
    Ok(Converted {
        parquet: Some(parquet),
        failures,
    })
}

fn build_array<'a>(kind: ColumnType, cells: impl Iterator<Item = &'a Cell>) -> ArrayRef {
    // Cells were checked against `kind` by `cell`, so each arm sees its own variant
    // or a null.
    macro_rules! build {
        ($builder:expr, $pattern:pat => $value:expr) => {{
            let mut builder = $builder;
            for cell in cells {
                match cell {
                    $pattern => builder.append_value($value),
                    _ => builder.append_null(),
                }
            }
            Arc::new(builder.finish()) as ArrayRef
        }};
    }
    match kind {
        ColumnType::String => build!(StringBuilder::new(), Cell::Text(t) => t),
        ColumnType::Int => build!(Int32Builder::new(), Cell::Int(i) => *i as i32),
        ColumnType::Bigint => build!(Int64Builder::new(), Cell::Int(i) => *i),
        ColumnType::Float => build!(Float32Builder::new(), Cell::Float(f) => *f as f32),
        ColumnType::Double => build!(Float64Builder::new(), Cell::Float(f) => *f),
        ColumnType::Boolean => build!(BooleanBuilder::new(), Cell::Bool(b) => *b),
    }
}

#[cfg(test)]
mod tests {
    //! Conversion, inference and failures.
    use super::*;
    use arrow_array::{Array, Int64Array, StringArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn read_back(parquet: Vec<u8>) -> RecordBatch {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(parquet))
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        assert_eq!(batches.len(), 1);
        batches.into_iter().next().unwrap()
    }

    /// Declared columns convert good records and report bad ones with a reason.
    #[test]
    fn declared_schema_converts_and_reports_failures() {
        let columns = vec![
            Column {
                name: "id".into(),
                kind: ColumnType::Bigint,
            },
            Column {
                name: "name".into(),
                kind: ColumnType::String,
            },
            Column {
                name: "ok".into(),
                kind: ColumnType::Boolean,
            },
        ];
        let records: Vec<&[u8]> = vec![
            br#"{"id": 1, "name": "a", "ok": true}"#,
            br#"{"id": "x", "name": "b"}"#,
            b"not json",
            br#"{"id": 3}"#,
        ];
        for compression in [
            ParquetCompression::Uncompressed,
            ParquetCompression::Snappy,
            ParquetCompression::Gzip,
            ParquetCompression::Zstd,
        ] {
            let converted = to_parquet(&records, &columns, compression).unwrap();
            assert_eq!(converted.failures.len(), 2);
            assert_eq!(converted.failures[0].0, 1);
            assert!(converted.failures[0].1.contains("not a bigint"));
            assert_eq!(converted.failures[1].0, 2);
            let batch = read_back(converted.parquet.unwrap());
            assert_eq!(batch.num_rows(), 2);
            let ids = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            assert_eq!(ids.values(), &[1, 3]);
            let names = batch
                .column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            assert_eq!(names.value(0), "a");
            assert!(names.is_null(1));
        }
    }

    /// Inference types fields by their values and widens int to double.
    #[test]
    fn inference_types_fields() {
        let records: Vec<&[u8]> = vec![
            br#"{"a": 1, "b": "x", "c": null}"#,
            br#"{"a": 1.5, "c": true, "d": {"k": 1}}"#,
        ];
        let columns = infer_columns(records.iter().copied());
        let kinds: Vec<(&str, ColumnType)> =
            columns.iter().map(|c| (c.name.as_str(), c.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("a", ColumnType::Double),
                ("b", ColumnType::String),
                ("c", ColumnType::Boolean),
                ("d", ColumnType::String)
            ]
        );
        assert!(validate_columns(&[]).is_err());
        assert!(ColumnType::parse("struct<a:int>").is_err());
    }

    /// Catalog tables load their declared columns; absent tables are `None`.
    #[test]
    fn catalog_tables() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(catalog_columns(dir.path(), "db", "t").unwrap(), None);
        std::fs::create_dir_all(dir.path().join("catalog/db")).unwrap();
        std::fs::write(
            dir.path().join("catalog/db/t.json"),
            br#"{"columns": [{"name": "id", "type": "bigint"}, {"name": "n", "type": "string"}]}"#,
        )
        .unwrap();
        let columns = catalog_columns(dir.path(), "db", "t").unwrap().unwrap();
        assert_eq!(columns[0].kind, ColumnType::Bigint);
        assert_eq!(columns[1].name, "n");
        assert!(catalog_columns(dir.path(), "..", "t").is_err());
    }
}
