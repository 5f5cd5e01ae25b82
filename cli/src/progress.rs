//! Progress bars for the long commands (`run`, `deliver`), drawn on
//! standard error only when it is a terminal: a script or a log file gets
//! the summary alone. Fed by the stages' events ([`shared::progress`]).

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use shared::progress::{Event, Stage, Watcher};

/// One bar per stage, under one another.
struct Bars {
    multi: MultiProgress,
    /// The bars of collect, convert and deliver, once started.
    bars: Mutex<[Option<ProgressBar>; 3]>,
}

/// Shows the stages' progress when standard error is a terminal.
pub fn show() {
    if !std::io::stderr().is_terminal() {
        return;
    }
    shared::progress::watch(Box::new(Bars {
        multi: MultiProgress::new(),
        bars: Mutex::new([None, None, None]),
    }));
}

fn slot(stage: Stage) -> usize {
    match stage {
        Stage::Collect => 0,
        Stage::Convert => 1,
        Stage::Deliver => 2,
    }
}

/// What each stage counts.
fn unit(stage: Stage) -> &'static str {
    match stage {
        Stage::Collect => "units",
        Stage::Convert => "batches",
        Stage::Deliver => "copies",
    }
}

impl Watcher for Bars {
    fn event(&self, event: Event) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        match event {
            Event::Started { stage, total } => {
                // Collect cannot know its work in advance: a counter.
                let template = match total {
                    None if stage == Stage::Collect => {
                        "{prefix:>8} {spinner} {pos} {msg} ({per_sec})"
                    }
                    _ => "{prefix:>8} [{bar:32}] {pos}/{len} {msg} ({per_sec}, {eta} left)",
                };
                let style = ProgressStyle::with_template(template)
                    .expect("the templates are valid")
                    .progress_chars("=> ");
                let bar = match total {
                    None if stage == Stage::Collect => ProgressBar::no_length(),
                    // Deliver finds its copies as it reads the job files.
                    _ => ProgressBar::new(total.unwrap_or(0)),
                };
                let bar = self.multi.add(
                    bar.with_style(style)
                        .with_prefix(stage.as_str())
                        .with_message(unit(stage)),
                );
                bar.enable_steady_tick(std::time::Duration::from_millis(200));
                bars[slot(stage)] = Some(bar);
            }
            Event::Found { stage, by } => {
                if let Some(bar) = &bars[slot(stage)] {
                    bar.inc_length(by);
                }
            }
            Event::Advanced { stage, by } => {
                if let Some(bar) = &bars[slot(stage)] {
                    bar.inc(by);
                }
            }
            Event::Finished { stage } => {
                if let Some(bar) = bars[slot(stage)].take() {
                    bar.finish();
                }
            }
        }
    }
}
