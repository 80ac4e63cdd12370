//! Training one run: the loop, the loss, the learning-rate schedule, validation, the SVC
//! probe and checkpoints.
//!
//! The loop: batches from the seeded stream (`crate::data`), forward on the autodiff
//! device, loss, backward, optimizer step with the scheduled learning rate. Every
//! `validate_every` inputs (default: one epoch) and at the end it evaluates, appends a row
//! to `metrics.csv` and saves a checkpoint; a resumed run continues from the checkpoint with
//! the same data order, augmentation and random state as one that was never interrupted.
//! A stop request (`crate::stop`) ends the loop at the next step boundary with a checkpoint
//! there and the error [`Stopped`]; the random state is reseeded from the step count before
//! every step, so any step boundary is as good a place to resume as a validation.

pub mod checkpoint;
pub mod evaluate;
pub mod fault;
pub mod loss;
pub mod observer;
pub mod schedule;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::optim::{
    AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig, momentum::MomentumConfig,
};
use burn::tensor::{Device, Tensor, TensorData};

use crate::backend::{self, SelectedDevice};
use crate::config::PlannedRun;
use crate::config::schema::{OptimizerSpec, ProbeEvery, RunConfig};
use crate::data::{BatchStream, DataSource, Dataset, Pipeline, StreamPosition};
use crate::model::Model;
use crate::probe;
use crate::rundir::{MetricsRow, RunDir, RunResult};
use crate::stop::{self, Stopped};
use checkpoint::TrainState;
use evaluate::{Evaluation, evaluate};
pub use observer::TrainObserver;
use schedule::Schedule;

/// Everything the training of one run needs.
pub struct TrainContext<'a> {
    pub run: &'a PlannedRun,
    pub dir: &'a RunDir,
    pub data_dir: Option<PathBuf>,
    pub device: &'a SelectedDevice,
    /// Told about every step and validation.
    pub observer: &'a dyn TrainObserver,
    /// Stop (with a validation and a checkpoint there) at this many inputs: the run's
    /// `max_inputs`, or a `$halving` rung below it. The schedule is always `max_inputs`'s,
    /// so a run stopped at a rung is the prefix of the full run.
    pub stop_at: u64,
}

/// Inputs trained so far according to the run's newest checkpoint (`None`: no checkpoint).
pub fn checkpoint_inputs(dir: &RunDir) -> Option<u64> {
    checkpoint::read_state(dir).map(|state| state.inputs)
}

/// The data of a run, loaded once.
struct RunData {
    train: Arc<Dataset>,
    validation: Arc<Dataset>,
    pipeline: Arc<Pipeline>,
    eval_pipeline: Arc<Pipeline>,
}

/// Train (or resume) the run to its budget; write metrics and checkpoints on the way.
/// After a stop request: the error [`Stopped`], with a checkpoint at the last step.
pub fn train_run(context: &TrainContext) -> Result<RunResult> {
    let config = &context.run.config;
    let dir = context.dir;
    let device = context.device.device();
    let train_device = device.clone().autodiff();
    let data = load_data(config, context.data_dir.clone())?;

    backend::seed(&device, config.seed);
    let mut model = Model::new(&config.model, config.train_set.shape, &train_device)?;
    let mut optimizer = optimizer(config);
    let mut state = TrainState::default();
    if let Some(restored) = checkpoint::load(dir, &model, &optimizer, |note| context.observer.note(note))? {
        (model, optimizer, state) = (restored.model, restored.optimizer, restored.state);
    }
    // The checkpoint's rows replace whatever a crash left in `metrics.csv` (rows past the
    // checkpoint, or a damaged file).
    dir.write_metrics(&state.rows)?;
    let fault = fault::Fault::from_env()?;

    let schedule = Schedule::new(&config.scheduler, config.learnrate, config.max_inputs, config.batch_size);
    let validate_every = config.validate_every.unwrap_or(data.train.len() as u64);
    let checkpoint_every = config.checkpoint_every.unwrap_or(u64::MAX);
    let start = StreamPosition { epoch: state.epoch, batch: state.batch_in_epoch as usize };
    let stream =
        BatchStream::train(data.train.clone(), data.pipeline.clone(), config.batch_size, config.seed, start)?;
    let session_start = Instant::now();
    let elapsed_before = state.elapsed_s;
    let mut last_checkpoint = state.inputs;

    let stop_at = context.stop_at.min(config.max_inputs);
    for batch in stream {
        if state.inputs >= stop_at {
            break;
        }
        let step_start = Instant::now();
        backend::seed(&device, random_state(config.seed, state.steps));
        let n = batch.len();
        let classes = batch.targets.len() / n;
        let images = Tensor::<4>::from_data(TensorData::new(batch.images, batch.shape), &train_device);
        let targets = Tensor::<2>::from_data(TensorData::new(batch.targets, [n, classes]), &train_device);
        let output = model.forward(images);
        let loss = loss::loss(&config.loss_function, output.logits, targets);
        let loss_value = loss.clone().into_scalar::<f64>();
        if !loss_value.is_finite() {
            bail!("the training loss became {loss_value} at input {} (step {})", state.inputs, state.steps);
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(schedule.at(state.steps), model, grads);

        state.inputs += n as u64;
        state.steps += 1;
        state.epoch = batch.resume_from.epoch;
        state.batch_in_epoch = batch.resume_from.batch as u64;
        state.loss_sum += loss_value * n as f64;
        state.loss_count += n as u64;
        state.train_time_s += step_start.elapsed().as_secs_f64();
        context.observer.step(state.inputs, loss_value);
        if let Some(fault) = fault {
            fault.strike(state.inputs, context.observer);
        }

        let finished = state.inputs >= config.max_inputs;
        let at_stop = state.inputs >= stop_at;
        if finished || at_stop || state.inputs - state.last_validation >= validate_every {
            let with_probe = finished || config.probe.every == ProbeEvery::EachValidation;
            let learnrate = schedule.at(state.steps);
            let (row, probe) =
                measure_validation(config, &model, &data, &device, &state, learnrate, with_probe)?;
            state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
            let row = MetricsRow { elapsed_s: state.elapsed_s, ..row };
            context.observer.validated(&row);
            state.rows.push(row);
            dir.write_metrics(&state.rows)?;
            state.last_validation = state.inputs;
            state.loss_sum = 0.0;
            state.loss_count = 0;
            if let Some(probe) = probe {
                state.probe_samples = Some(probe.samples);
                state.probe_seconds = Some(probe.seconds);
            }
        }
        if finished
            || state.inputs == state.last_validation
            || state.inputs - last_checkpoint >= checkpoint_every
        {
            state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
            checkpoint::save(dir, &model, &optimizer, &state)?;
            last_checkpoint = state.inputs;
        }
        if finished || at_stop {
            break;
        }
        if let Some(signal) = stop::requested() {
            if state.inputs != last_checkpoint {
                state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
                checkpoint::save(dir, &model, &optimizer, &state)?;
            }
            return Err(Stopped { signal, inputs: state.inputs }.into());
        }
    }

    let last = state.rows.last().context("the run ended without a validation")?;
    Ok(RunResult {
        inputs: state.inputs,
        steps: state.steps,
        validation_loss: last.validation_loss,
        accuracy_argmax: last.accuracy_argmax,
        accuracy_svc: last.accuracy_svc,
        accuracy_svc_heldout: last.accuracy_svc_heldout,
        probe_samples: state.probe_samples,
        probe_seconds: state.probe_seconds,
        params: context.run.params()?,
        train_time_s: state.train_time_s,
        throughput: state.inputs as f64 / state.train_time_s.max(1e-9),
    })
}

fn load_data(config: &RunConfig, data_dir: Option<PathBuf>) -> Result<RunData> {
    let source = DataSource::from_env(data_dir);
    let train = Arc::new(Dataset::load(&config.train_set, config.seed, &source)?);
    let validation = Arc::new(Dataset::load(&config.validation_set, config.seed, &source)?);
    let pipeline = Pipeline::new(&config.train_input_transforms, train.shape())?;
    let eval_pipeline = Arc::new(pipeline.for_validation());
    Ok(RunData { train, validation, pipeline: Arc::new(pipeline), eval_pipeline })
}

/// The optimizer with PyTorch's defaults (burn's own AdamW defaults differ: eps 1e-5,
/// weight decay 1e-4).
fn optimizer(config: &RunConfig) -> ModuleOptimizer {
    let weight_decay = config.weight_decay.unwrap_or_else(|| config.optimizer.default_weight_decay()) as f32;
    match &config.optimizer {
        OptimizerSpec::AdamW { betas, eps } => AdamWConfig::new()
            .with_beta_1(betas[0] as f32)
            .with_beta_2(betas[1] as f32)
            .with_epsilon(*eps as f32)
            .with_weight_decay(weight_decay)
            .init(),
        OptimizerSpec::Adam { betas, eps } => AdamConfig::new()
            .with_beta_1(betas[0] as f32)
            .with_beta_2(betas[1] as f32)
            .with_epsilon(*eps as f32)
            .with_weight_decay(
                (weight_decay > 0.0).then(|| burn::optim::decay::WeightDecayConfig::new(weight_decay)),
            )
            .init(),
        OptimizerSpec::Sgd { momentum, nesterov } => SgdConfig::new()
            .with_momentum((*momentum > 0.0).then(|| {
                MomentumConfig::new().with_momentum(*momentum).with_dampening(0.0).with_nesterov(*nesterov)
            }))
            .with_weight_decay(
                (weight_decay > 0.0).then(|| burn::optim::decay::WeightDecayConfig::new(weight_decay)),
            )
            .init(),
    }
}

/// What the probe reports besides the accuracies.
#[derive(Debug, Clone, Copy)]
struct ProbeOutcome {
    samples: usize,
    seconds: f64,
}

/// The metrics of a validation: evaluate on the validation set (and, with `with_probe`, fit
/// the SVC probes).
fn measure_validation(
    config: &RunConfig,
    model: &Model,
    data: &RunData,
    device: &Device,
    state: &TrainState,
    learnrate: f64,
    with_probe: bool,
) -> Result<(MetricsRow, Option<ProbeOutcome>)> {
    let eval_model = model.valid();
    let validation = evaluate(
        &eval_model,
        data.validation.clone(),
        data.eval_pipeline.clone(),
        &config.loss_function,
        device,
    )?;
    let (svc, heldout, outcome) = if with_probe {
        let (svc, heldout, outcome) = run_probes(config, &eval_model, data, device, &validation)?;
        (Some(svc), Some(heldout), Some(outcome))
    } else {
        (None, None, None)
    };
    let row = MetricsRow {
        inputs: state.inputs,
        epoch: state.epoch,
        train_loss: state.loss_sum / state.loss_count.max(1) as f64,
        validation_loss: validation.loss,
        accuracy_argmax: validation.accuracy,
        accuracy_svc: svc,
        accuracy_svc_heldout: heldout,
        learnrate,
        elapsed_s: 0.0,
        throughput: state.inputs as f64 / state.train_time_s.max(1e-9),
    };
    Ok((row, outcome))
}

/// `accuracy_svc`: fitted and scored on the validation embeddings (what nn-experiments
/// reports); `accuracy_svc_heldout`: fitted on a class-balanced sample of training
/// embeddings, scored on the validation embeddings (the honest figure).
fn run_probes(
    config: &RunConfig,
    model: &Model,
    data: &RunData,
    device: &Device,
    validation: &Evaluation,
) -> Result<(f64, f64, ProbeOutcome)> {
    let start = Instant::now();
    let classes = config.model.classes;
    let on_validation = probe::probe(
        &validation.embeddings,
        &validation.labels,
        &validation.embeddings,
        &validation.labels,
        validation.embedding_dim,
        classes,
    )?;
    // A class-balanced sample of the training images already in memory (all of them if
    // there are fewer than `probe.samples`).
    let sample = if config.probe.samples >= data.train.len() {
        data.train.clone()
    } else {
        Arc::new(data.train.balanced_subset(config.probe.samples, config.seed, &config.train_set)?)
    };
    let train = evaluate(model, sample, data.eval_pipeline.clone(), &config.loss_function, device)?;
    let heldout = probe::probe(
        &train.embeddings,
        &train.labels,
        &validation.embeddings,
        &validation.labels,
        validation.embedding_dim,
        classes,
    )?;
    let outcome = ProbeOutcome { samples: train.labels.len(), seconds: start.elapsed().as_secs_f64() };
    Ok((on_validation.accuracy, heldout.accuracy, outcome))
}

/// The backend's random state after `steps` steps of a run with `seed`.
fn random_state(seed: u64, steps: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ steps
}
