//! Progress of long work that holds up a stream: restoring the state of a checkpoint, and
//! catching up the batches that fell due while the program was down. Each task counts what is
//! done out of its total, is shown by the web UI, and logs every step at info level
//! ("restored the state of 2 of 5 stateful streams", "caught up 3 of 10 missed batches").

use std::sync::Mutex;

use crate::sync::RecoverPoison;

/// What a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Work {
    /// Reading and decoding the state of a checkpoint, one stateful stream at a time.
    Restoring,
    /// Running the batches that fell due while the program was down.
    CatchingUp,
}

impl Work {
    /// The task's name, as the UI shows it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Work::Restoring => "restoring checkpoint",
            Work::CatchingUp => "catching up missed batches",
        }
    }

    fn log(self, done: u64, total: u64) {
        match self {
            Work::Restoring => {
                tracing::info!("restored the state of {done} of {total} stateful streams")
            }
            Work::CatchingUp => tracing::info!("caught up {done} of {total} missed batches"),
        }
    }
}

/// One task's progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Task {
    /// What it is.
    pub(crate) work: Work,
    /// Steps done.
    pub(crate) done: u64,
    /// Steps in all.
    pub(crate) total: u64,
    /// Whether it has ended (all done, or given up: a failed restore).
    pub(crate) finished: bool,
}

#[derive(Default)]
struct Tasks {
    tasks: Vec<Task>,
    /// The missed batches being caught up: the last one's time (ms).
    catching_up_through: Option<u64>,
}

/// The long work of one streaming context, in the order it started.
#[derive(Default)]
pub(crate) struct LongWork {
    tasks: Mutex<Tasks>,
}

impl LongWork {
    /// Starts a task of `total` steps (logged).
    pub(crate) fn start(&self, work: Work, total: u64) {
        tracing::info!("{}: {total} to do", work.name());
        let mut t = self.tasks.lock().recover();
        t.tasks.retain(|task| task.work != work);
        t.tasks.push(Task {
            work,
            done: 0,
            total,
            finished: total == 0,
        });
    }

    /// One more step of `work` is done (logged as "… n of total").
    pub(crate) fn step(&self, work: Work) {
        let mut t = self.tasks.lock().recover();
        let Some(task) = t.tasks.iter_mut().find(|task| task.work == work) else {
            return;
        };
        if task.finished {
            return;
        }
        task.done = (task.done + 1).min(task.total);
        task.finished = task.done == task.total;
        let (done, total) = (task.done, task.total);
        drop(t);
        work.log(done, total);
    }

    /// Ends `work` where it is (a restore that failed, a stop before the catching up ended).
    pub(crate) fn finish(&self, work: Work) {
        let mut t = self.tasks.lock().recover();
        if let Some(task) = t.tasks.iter_mut().find(|task| task.work == work) {
            task.finished = true;
        }
    }

    /// `count` batches, the last one at `last` (ms), fell due while the program was down; they
    /// run first, and their completions are counted as they come.
    pub(crate) fn catching_up(&self, last: u64, count: u64) {
        self.start(Work::CatchingUp, count);
        self.tasks.lock().recover().catching_up_through = Some(last);
    }

    /// Batch `time` completed: a step of the catching up if it was one of the missed batches.
    pub(crate) fn batch_completed(&self, time: u64) {
        let through = self.tasks.lock().recover().catching_up_through;
        if through.is_some_and(|last| time <= last) {
            self.step(Work::CatchingUp);
        }
    }

    /// Every task, in the order they started.
    pub(crate) fn tasks(&self) -> Vec<Task> {
        self.tasks.lock().recover().tasks.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catching_up_counts_only_the_missed_batches() {
        let work = LongWork::default();
        work.catching_up(3000, 3);
        for time in [1000, 2000, 3000, 4000] {
            work.batch_completed(time);
        }
        assert_eq!(
            work.tasks(),
            [Task {
                work: Work::CatchingUp,
                done: 3,
                total: 3,
                finished: true
            }]
        );
    }

    #[test]
    fn a_task_ends_when_all_is_done_or_when_told() {
        let work = LongWork::default();
        work.start(Work::Restoring, 2);
        work.step(Work::Restoring);
        assert_eq!(work.tasks()[0].done, 1);
        assert!(!work.tasks()[0].finished);
        work.finish(Work::Restoring);
        assert!(work.tasks()[0].finished);
        // Nothing to do is done at once.
        work.start(Work::CatchingUp, 0);
        assert!(work.tasks()[1].finished);
    }
}
