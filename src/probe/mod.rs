//! The SVC probe: how well the classes separate in a trained encoder's embedding (code layer),
//! measured by an RBF support vector classifier equivalent to scikit-learn's `SVC()` with
//! default settings:
//!
//! * kernel `exp(-gamma ||x − y||²)` with `gamma = 'scale'` = `1 / (n_features · X.var())`,
//!   the variance over all values of the training matrix (`gamma = 1` if that variance is 0);
//! * `C = 1`, stopping tolerance `1e-3`, libsvm's SMO with second-order working set selection;
//! * one-vs-one over all class pairs (45 for 10 classes), majority vote, ties to the lowest class.
//!
//! A run reports it twice, both plain calls of [`probe`]:
//!
//! * `accuracy_svc`: fit **and** score on the validation embeddings (`train = test =
//!   validation`), the number nn-experiments reports;
//! * `accuracy_svc_heldout`: fit on a class-balanced sample of the training embeddings, score on
//!   the validation embeddings.
//!
//! Embeddings are row-major `f32` slices of `n_samples × n_features`; labels are class indices
//! `< n_classes`. Class pairs are fitted in parallel (rayon); each keeps the kernel rows its
//! solver touched, at most `n_pair² × 4` bytes (16 MB for a pair of 2,000 samples, typically a
//! tenth of that) and never more than 1 GiB, beyond which rows are recomputed.

mod kernel;
mod ovo;
mod smo;

use std::time::Instant;

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use self::kernel::rbf_matrix;
use self::ovo::OneVsOne;

/// Why a probe could not be fitted or applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProbeError {
    #[error("the SVC probe got no samples")]
    Empty,
    #[error("the SVC probe needs at least one feature per sample")]
    NoFeatures,
    #[error("{values} embedding values are not a whole number of samples of {n_features} features")]
    RaggedEmbeddings { values: usize, n_features: usize },
    #[error("{samples} embedded samples but {labels} labels")]
    LengthMismatch { samples: usize, labels: usize },
    #[error("label {label} of sample {sample} is not below the number of classes ({n_classes})")]
    LabelOutOfRange { sample: usize, label: usize, n_classes: usize },
    #[error("embedding value {value} of sample {sample} is not finite")]
    NotFinite { sample: usize, value: f32 },
    #[error("the SVC probe needs at least two classes, got only class {class}")]
    OneClass { class: usize },
    #[error("the SVC probe needs C > 0 and a tolerance > 0, got C = {c}, tolerance = {tol}")]
    BadSettings { c: f64, tol: f64 },
}

/// The probe's settings; `SvcProbe::default()` is scikit-learn's `SVC()`.
#[derive(Debug, Clone, PartialEq)]
pub struct SvcProbe {
    /// The soft-margin penalty `C`.
    pub c: f64,
    /// The stopping tolerance on the largest KKT violation (`tol`).
    pub tol: f64,
}

impl Default for SvcProbe {
    fn default() -> Self {
        SvcProbe { c: 1.0, tol: 1e-3 }
    }
}

/// A fitted probe: the support vectors and the one-vs-one pair classifiers.
#[derive(Debug, Clone)]
pub struct SvcModel {
    n_features: usize,
    gamma: f64,
    /// Subtracted from every sample: the kernel only sees differences, and centred values keep
    /// the f32 `||x||² + ||y||² − 2x·y` form accurate.
    mean: Array1<f32>,
    /// Centred support vectors, one row each.
    support_vectors: Array2<f32>,
    /// Labels of the classes present in training, ascending; index = class index of `ovo`.
    classes: Vec<usize>,
    /// Support vectors per entry of `classes` (sklearn's `n_support_`).
    n_support: Vec<usize>,
    ovo: OneVsOne,
}

/// The outcome of [`probe`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// Fraction of test samples classified correctly, in `[0, 1]`.
    pub accuracy: f64,
    pub train_samples: usize,
    pub fit_seconds: f64,
    pub predict_seconds: f64,
}

impl SvcProbe {
    /// Fits the classifier on `x` (`labels.len() × n_features`, row-major) with labels
    /// `< n_classes`. Classes without samples take no part, as in sklearn.
    pub fn fit(
        &self,
        x: &[f32],
        n_features: usize,
        labels: &[usize],
        n_classes: usize,
    ) -> Result<SvcModel, ProbeError> {
        if !(self.c > 0.0 && self.c.is_finite() && self.tol > 0.0 && self.tol.is_finite()) {
            return Err(ProbeError::BadSettings { c: self.c, tol: self.tol });
        }
        let x = embeddings(x, n_features)?;
        if x.nrows() != labels.len() {
            return Err(ProbeError::LengthMismatch { samples: x.nrows(), labels: labels.len() });
        }
        if let Some((sample, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= n_classes) {
            return Err(ProbeError::LabelOutOfRange { sample, label, n_classes });
        }
        let mut classes = labels.to_vec();
        classes.sort_unstable();
        classes.dedup();
        if let [class] = classes[..] {
            return Err(ProbeError::OneClass { class });
        }
        let class_of: Vec<usize> =
            labels.iter().map(|l| classes.binary_search(l).expect("label among classes")).collect();

        let gamma = gamma_scale(x);
        let mean = x.map(|&v| f64::from(v)).mean_axis(Axis(0)).expect("non-empty").mapv(|m| m as f32);
        let centred = &x - &mean;
        let (ovo, sv_rows) = OneVsOne::fit(centred.view(), &class_of, classes.len(), gamma, self.c, self.tol);
        let mut n_support = vec![0; classes.len()];
        for &r in &sv_rows {
            n_support[class_of[r]] += 1;
        }
        Ok(SvcModel {
            n_features,
            gamma,
            mean,
            support_vectors: centred.select(Axis(0), &sv_rows),
            classes,
            n_support,
            ovo,
        })
    }
}

/// Fits scikit-learn's default `SVC()`; see [`SvcProbe::fit`].
pub fn fit(x: &[f32], n_features: usize, labels: &[usize], n_classes: usize) -> Result<SvcModel, ProbeError> {
    SvcProbe::default().fit(x, n_features, labels, n_classes)
}

/// Test samples per block of prediction: bounds the f64 kernel block to a few tens of MB.
const PREDICT_BLOCK: usize = 512;

impl SvcModel {
    /// The predicted label of every sample of `x` (row-major, `n_features` per sample).
    pub fn predict(&self, x: &[f32]) -> Result<Vec<usize>, ProbeError> {
        let x = embeddings(x, self.n_features)?;
        let blocks: Vec<Vec<usize>> = x
            .axis_chunks_iter(Axis(0), PREDICT_BLOCK)
            .into_par_iter()
            .map(|block| {
                let centred = &block - &self.mean;
                let k = rbf_matrix(centred.view(), self.support_vectors.view(), self.gamma);
                self.ovo.predict(k.mapv(f64::from).view())
            })
            .collect();
        Ok(blocks.into_iter().flatten().map(|k| self.classes[k]).collect())
    }

    /// The kernel coefficient used (`gamma = 'scale'` of the training data).
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// The labels of the classes seen in training, ascending (sklearn's `classes_`).
    pub fn classes(&self) -> &[usize] {
        &self.classes
    }

    /// Support vectors per class of [`Self::classes`] (sklearn's `n_support_`).
    pub fn n_support(&self) -> &[usize] {
        &self.n_support
    }
}

/// The fraction of `predicted` equal to `labels`.
pub fn accuracy(predicted: &[usize], labels: &[usize]) -> Result<f64, ProbeError> {
    if predicted.len() != labels.len() {
        return Err(ProbeError::LengthMismatch { samples: predicted.len(), labels: labels.len() });
    }
    if labels.is_empty() {
        return Err(ProbeError::Empty);
    }
    let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    Ok(correct as f64 / labels.len() as f64)
}

/// Fits the default probe on `(train_x, train_y)` and scores it on `(test_x, test_y)`; pass the
/// same data twice to fit and score on one set (`accuracy_svc`).
///
/// ```
/// // Two classes of one feature each: around 0 and around 1.
/// let x = [0.0, 0.1, 0.2, 1.0, 1.1, 1.2];
/// let y = [0, 0, 0, 1, 1, 1];
/// let result = expgrid::probe::probe(&x, &y, &x, &y, 1, 2)?;
/// assert_eq!(result.accuracy, 1.0);
/// # Ok::<(), expgrid::probe::ProbeError>(())
/// ```
pub fn probe(
    train_x: &[f32],
    train_y: &[usize],
    test_x: &[f32],
    test_y: &[usize],
    n_features: usize,
    n_classes: usize,
) -> Result<ProbeResult, ProbeError> {
    let start = Instant::now();
    let model = fit(train_x, n_features, train_y, n_classes)?;
    let fit_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let predicted = model.predict(test_x)?;
    let predict_seconds = start.elapsed().as_secs_f64();
    Ok(ProbeResult {
        accuracy: accuracy(&predicted, test_y)?,
        train_samples: train_y.len(),
        fit_seconds,
        predict_seconds,
    })
}

/// Checks and views a row-major embedding slice as `n_samples × n_features`.
fn embeddings(x: &[f32], n_features: usize) -> Result<ArrayView2<'_, f32>, ProbeError> {
    if n_features == 0 {
        return Err(ProbeError::NoFeatures);
    }
    if x.is_empty() {
        return Err(ProbeError::Empty);
    }
    if !x.len().is_multiple_of(n_features) {
        return Err(ProbeError::RaggedEmbeddings { values: x.len(), n_features });
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(ProbeError::NotFinite { sample: i / n_features, value: x[i] });
    }
    Ok(ArrayView2::from_shape((x.len() / n_features, n_features), x).expect("length checked"))
}

/// sklearn's `gamma='scale'`: `1 / (n_features · X.var())` over all values (in f64, as sklearn
/// converts to float64), or 1 when the variance is 0.
fn gamma_scale(x: ArrayView2<f32>) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = x.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
    if var == 0.0 { 1.0 } else { 1.0 / (x.ncols() as f64 * var) }
}
