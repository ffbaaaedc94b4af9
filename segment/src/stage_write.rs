//! A commit round's jobs: taken from the logs' stages, and written whole, or split
//! around the block each shares with the round before it.

use crate::active::release;
use crate::backend::{WriteBackend, WriteOp};
use crate::committer::take_stages;
use crate::io::FileHandle;
use crate::log::{LogShared, Stage};
use std::io;
use std::sync::Arc;

/// One log's work in a round.
pub(crate) struct Job {
    pub log: Arc<LogShared>,
    pub stages: Vec<Stage>,
}

/// Takes the staged batches of `logs`: appends to each log's open segment (fast,
/// written together) and the rest (slow: segment creation, stage by stage).
pub(crate) fn take_round(logs: Vec<Arc<LogShared>>) -> (Vec<Job>, Vec<Job>) {
    let (mut fast, mut slow) = (Vec::new(), Vec::new());
    for log in logs {
        let stages = take_stages(&log);
        if stages.is_empty() {
            continue;
        }
        // The open segment must be the stage's own: an earlier round still in
        // flight may be about to create the stage's segment.
        let plain = stages.len() == 1
            && stages[0].create.is_none()
            && log
                .lock_writer()
                .active
                .as_ref()
                .is_some_and(|active| active.segment_base == stages[0].segment_base);
        let job = Job { log, stages };
        if plain {
            fast.push(job);
        } else {
            slow.push(job);
        }
    }
    (fast, slow)
}

/// A writer died (every log is failed): gives back the stages of `jobs` unwritten.
pub(crate) fn abandon(jobs: impl Iterator<Item = Job>) {
    for Job { log, stages } in jobs {
        release(&log, stages.len());
    }
}

/// Which part of a stage's write to submit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// All of it.
    Whole,
    /// All but the first block when the stage carries a partial block (else all).
    Body,
    /// Only the first block, when the stage carries a partial block (else nothing).
    Head,
}

/// Where the write of a stage ends in its file, `O_DIRECT` padding included.
pub(crate) fn write_end(stage: &Stage, alignment: usize) -> u64 {
    stage.end_offset().next_multiple_of(alignment as u64)
}

/// The write op for a stage: from its aligned start, padded for `O_DIRECT`.
pub(crate) fn stage_op<'a>(
    stage: &'a mut Stage,
    file: &'a dyn FileHandle,
    alignment: usize,
) -> WriteOp<'a> {
    if alignment > 1 {
        WriteOp {
            file,
            offset: stage.file_offset,
            data: stage.buf.padded(alignment),
        }
    } else {
        let carried = stage.carried;
        WriteOp {
            file,
            offset: stage.file_offset + carried as u64,
            data: &stage.buf.as_slice()[carried..],
        }
    }
}

/// The op for `part` of a stage, if that part has bytes. Splitting needs aligned
/// (`O_DIRECT`) writes: the carried block is the only one a stage shares with the
/// stage before it.
fn part_op<'a>(
    stage: &'a mut Stage,
    file: &'a dyn FileHandle,
    alignment: usize,
    part: Part,
) -> Option<WriteOp<'a>> {
    let carried = stage.carried;
    let op = stage_op(stage, file, alignment);
    if part == Part::Whole || carried == 0 {
        return (part != Part::Head).then_some(op);
    }
    assert!(alignment > 1, "only aligned writes are split");
    let (head, body) = op.data.split_at(alignment);
    match part {
        Part::Head => Some(WriteOp { data: head, ..op }),
        _ => (!body.is_empty()).then_some(WriteOp {
            file,
            offset: op.offset + alignment as u64,
            data: body,
        }),
    }
}

/// Writes `part` of each job's (single) stage to its file in one backend call,
/// except the jobs marked in `skip`. One result per job: Ok for those with
/// nothing to write or skipped.
pub(crate) fn write_part(
    backend: &mut dyn WriteBackend,
    jobs: &mut [Job],
    files: &[Arc<dyn FileHandle>],
    part: Part,
    skip: &[bool],
) -> Vec<io::Result<()>> {
    let alignment = backend.alignment();
    let mut owners = Vec::with_capacity(jobs.len());
    let ops: Vec<WriteOp<'_>> = jobs
        .iter_mut()
        .zip(files)
        .enumerate()
        .filter(|(index, _)| !skip[*index])
        .filter_map(|(index, (job, file))| {
            let op = part_op(&mut job.stages[0], file.as_ref(), alignment, part)?;
            owners.push(index);
            Some(op)
        })
        .collect();
    let written = backend.write_all(&ops);
    drop(ops);
    let mut results: Vec<io::Result<()>> = (0..jobs.len()).map(|_| Ok(())).collect();
    for (index, result) in owners.into_iter().zip(written) {
        results[index] = result;
    }
    results
}
