//! Object compression: UNCOMPRESSED, GZIP, ZIP, Snappy (the framing format),
//! HADOOP_SNAPPY (Hadoop's block framing) and ZSTD.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;

/// Uncompressed bytes per HADOOP_SNAPPY block (Hadoop's default buffer, 256 KiB).
pub const HADOOP_SNAPPY_BLOCK_BYTES: usize = 256 << 10;
/// zstd level used for ZSTD objects (zstd's default).
pub const ZSTD_LEVEL: i32 = 3;

/// How delivered objects are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compression {
    /// As is.
    Uncompressed,
    /// gzip (RFC 1952), `.gz`.
    Gzip,
    /// A zip archive with one deflated entry, `.zip`.
    Zip,
    /// The snappy framing format (what Firehose's `Snappy` writes), `.snappy`.
    Snappy,
    /// Hadoop's snappy block format: per block a big-endian u32 uncompressed
    /// length, then big-endian u32 compressed length + raw snappy chunk, `.snappy`.
    HadoopSnappy,
    /// Zstandard frame, `.zst` (beyond what Firehose offers).
    Zstd,
}

impl Compression {
    /// The Firehose API name (`CompressionFormat`).
    pub fn wire_name(self) -> &'static str {
        match self {
            Compression::Uncompressed => "UNCOMPRESSED",
            Compression::Gzip => "GZIP",
            Compression::Zip => "ZIP",
            Compression::Snappy => "Snappy",
            Compression::HadoopSnappy => "HADOOP_SNAPPY",
            Compression::Zstd => "ZSTD",
        }
    }

    /// From the Firehose API name.
    pub fn parse(name: &str) -> Result<Compression> {
        let all = [
            Compression::Uncompressed,
            Compression::Gzip,
            Compression::Zip,
            Compression::Snappy,
            Compression::HadoopSnappy,
            Compression::Zstd,
        ];
        all.into_iter()
            .find(|c| c.wire_name() == name)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "CompressionFormat '{name}' is not one of UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY, ZSTD."
                ))
            })
    }

    /// The extension added to object keys.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Uncompressed => "",
            Compression::Gzip => ".gz",
            Compression::Zip => ".zip",
            Compression::Snappy | Compression::HadoopSnappy => ".snappy",
            Compression::Zstd => ".zst",
        }
    }

    /// Compresses `data`; `entry_name` names the one entry of a ZIP archive.
    pub fn compress(self, data: &[u8], entry_name: &str) -> Result<Vec<u8>> {
        let failed = |error: std::io::Error| {
            Error::Destination(format!("{} compression failed: {error}", self.wire_name()))
        };
        match self {
            Compression::Uncompressed => Ok(data.to_vec()),
            Compression::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 4),
                    flate2::Compression::default(),
                );
                encoder.write_all(data).map_err(failed)?;
                encoder.finish().map_err(failed)
            }
            Compression::Zip => zip_one(data, entry_name).map_err(failed),
            Compression::Snappy => {
                let mut encoder = snap::write::FrameEncoder::new(Vec::new());
                encoder.write_all(data).map_err(failed)?;
                encoder
                    .into_inner()
                    .map_err(|error| failed(error.into_error()))
            }
            Compression::HadoopSnappy => hadoop_snappy(data).map_err(failed),
            Compression::Zstd => zstd::stream::encode_all(data, ZSTD_LEVEL).map_err(failed),
        }
    }
}

fn zip_one(data: &[u8], entry_name: &str) -> std::io::Result<Vec<u8>> {
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(data.len() >= u32::MAX as usize);
    archive
        .start_file(entry_name, options)
        .map_err(std::io::Error::other)?;
    archive.write_all(data)?;
    let cursor = archive.finish().map_err(std::io::Error::other)?;
    Ok(cursor.into_inner())
}

fn hadoop_snappy(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = snap::raw::Encoder::new();
    let mut out = Vec::with_capacity(data.len() / 2 + 16);
    for block in data.chunks(HADOOP_SNAPPY_BLOCK_BYTES) {
        let chunk = encoder.compress_vec(block).map_err(std::io::Error::other)?;
        // Both lengths fit u32: a block is at most 256 KiB and snappy's worst
        // case is bounded by 32 + n + n/6.
        out.extend_from_slice(&(block.len() as u32).to_be_bytes());
        out.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! Every format round-trips through an independent decoder.
    use super::*;
    use std::io::Read;

    fn sample() -> Vec<u8> {
        (0..60_000u32)
            .flat_map(|i| format!("{{\"n\":{i}}}\n").into_bytes())
            .collect()
    }

    /// GZIP output decodes with flate2's reader.
    #[test]
    fn gzip_round_trips() {
        let data = sample();
        let packed = Compression::Gzip.compress(&data, "x").unwrap();
        assert!(packed.len() < data.len());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    /// Snappy output is the framing format (stream identifier first) and decodes.
    #[test]
    fn framed_snappy_round_trips() {
        let data = sample();
        let packed = Compression::Snappy.compress(&data, "x").unwrap();
        assert_eq!(&packed[..10], b"\xff\x06\x00\x00sNaPpY");
        let mut out = Vec::new();
        snap::read::FrameDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    /// HADOOP_SNAPPY decodes block by block: u32 BE lengths around raw chunks.
    #[test]
    fn hadoop_snappy_round_trips() {
        let data = sample();
        let packed = Compression::HadoopSnappy.compress(&data, "x").unwrap();
        let mut out = Vec::new();
        let mut rest = &packed[..];
        let mut blocks = 0;
        while !rest.is_empty() {
            let raw_len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let chunk_len = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
            let chunk = &rest[8..8 + chunk_len];
            let block = snap::raw::Decoder::new().decompress_vec(chunk).unwrap();
            assert_eq!(block.len(), raw_len);
            out.extend_from_slice(&block);
            rest = &rest[8 + chunk_len..];
            blocks += 1;
        }
        assert_eq!(out, data);
        assert_eq!(blocks, data.len().div_ceil(HADOOP_SNAPPY_BLOCK_BYTES));
    }

    /// ZIP output is an archive with one entry holding the data.
    #[test]
    fn zip_round_trips() {
        let data = sample();
        let packed = Compression::Zip.compress(&data, "orders-1").unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(packed)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name(), "orders-1");
        let mut out = Vec::new();
        entry.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    /// ZSTD output decodes with zstd's decoder; names parse back.
    #[test]
    fn zstd_round_trips_and_names_parse() {
        let data = sample();
        let packed = Compression::Zstd.compress(&data, "x").unwrap();
        assert_eq!(zstd::stream::decode_all(&packed[..]).unwrap(), data);
        assert_eq!(
            Compression::Uncompressed.compress(&data, "x").unwrap(),
            data
        );
        for name in [
            "UNCOMPRESSED",
            "GZIP",
            "ZIP",
            "Snappy",
            "HADOOP_SNAPPY",
            "ZSTD",
        ] {
            assert_eq!(Compression::parse(name).unwrap().wire_name(), name);
        }
        assert!(matches!(
            Compression::parse("LZ4"),
            Err(Error::InvalidArgument(_))
        ));
    }
}
