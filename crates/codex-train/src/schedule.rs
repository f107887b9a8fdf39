//! Learning-rate schedules: linear warmup, then constant, cosine or linear decay to a floor.

use codex_core::config::{Schedule, TrainSection};

/// The learning rate of optimizer step `step` (0-based). A pure function of the
/// step and the config, so a resumed run needs no scheduler state beyond the step.
pub fn lr_at(step: u64, train: &TrainSection) -> f64 {
    let (peak, floor) = (train.lr, train.min_lr);
    if step < train.warmup_steps {
        return peak * (step + 1) as f64 / train.warmup_steps as f64;
    }
    let span = train.max_steps.saturating_sub(train.warmup_steps).max(1);
    let progress = ((step - train.warmup_steps) as f64 / span as f64).min(1.0);
    match train.schedule {
        Schedule::Constant => peak,
        Schedule::Linear => peak + (floor - peak) * progress,
        Schedule::Cosine => {
            floor + 0.5 * (peak - floor) * (1.0 + (std::f64::consts::PI * progress).cos())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(schedule: Schedule) -> TrainSection {
        let mut c = codex_core::config::ConfigLoader::new()
            .load()
            .unwrap()
            .config
            .train;
        c.schedule = schedule;
        c.lr = 1.0;
        c.min_lr = 0.1;
        c.warmup_steps = 10;
        c.max_steps = 110;
        c
    }

    #[test]
    fn warmup_then_decay_to_the_floor() {
        for s in [Schedule::Cosine, Schedule::Linear, Schedule::Constant] {
            let c = section(s);
            assert!((lr_at(0, &c) - 0.1).abs() < 1e-12);
            assert!((lr_at(9, &c) - 1.0).abs() < 1e-12);
            assert!((lr_at(10, &c) - 1.0).abs() < 1e-12);
            let end = lr_at(110, &c);
            let expected = if s == Schedule::Constant { 1.0 } else { 0.1 };
            assert!((end - expected).abs() < 1e-12, "{s:?} {end}");
        }
        let c = section(Schedule::Cosine);
        assert!((lr_at(60, &c) - 0.55).abs() < 1e-12, "cosine midpoint");
        let c = section(Schedule::Linear);
        assert!((lr_at(60, &c) - 0.55).abs() < 1e-12, "linear midpoint");
    }
}
