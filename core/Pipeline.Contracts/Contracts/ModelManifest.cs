namespace Pipeline.Contracts;

/// <summary><c>models/{model}/{version}/manifest.json</c>: a published model version. Written after the model file, so a manifest means the version is complete.</summary>
public sealed class ModelManifest
{
    public string Model { get; set; } = "";

    public string Version { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public string Dataset { get; set; } = "";

    public string DatasetVersion { get; set; } = "";

    public string Task { get; set; } = "";

    public string Target { get; set; } = "";

    /// <summary>Ordered feature names: the keys a predict request's rows must have.</summary>
    public List<string> Features { get; set; } = [];

    public List<string> Labels { get; set; } = [];

    /// <summary>
    /// How predict requests' raw columns become <see cref="Features"/> (copied from the dataset manifest). Empty: the request
    /// rows carry the features themselves, as numbers.
    /// </summary>
    public List<ColumnEncoding> Encodings { get; set; } = [];

    /// <summary>
    /// The dataset's columns the model does not use (the target and the excluded columns, copied from the dataset manifest):
    /// a predict row copied from the uploaded data may carry them, and they are ignored rather than refused.
    /// </summary>
    public List<string> IgnoredColumns { get; set; } = [];

    /// <summary>Train-split statistics of every feature (copied from the dataset manifest; the baseline for drift monitoring).</summary>
    public List<FeatureStats> FeatureStats { get; set; } = [];

    /// <summary>Train-split distributions per column and the test split's predictions: the baseline of drift reports; null for versions trained before it was recorded, or without a trainer.</summary>
    public TrainingBaseline? Baseline { get; set; }

    /// <summary>Artifact served, relative to the version folder: the fp32 model or the int8 candidate the gate chose.</summary>
    public string Artifact { get; set; } = Storage.StorageNames.ModelFile;

    public string InputName { get; set; } = "";

    public string OutputName { get; set; } = "";

    /// <summary>Metrics of the fp32 model on the validation split (the split early stopping watched).</summary>
    public Dictionary<string, double> ValidationMetrics { get; set; } = [];

    /// <summary>Metrics of the served artifact on the test split, computed with ONNX Runtime.</summary>
    public Dictionary<string, double> TestMetrics { get; set; } = [];

    public TrainingSummary Training { get; set; } = new();

    /// <summary>The int8 candidates, their measured numbers and the gate's decision; null when quantization was not run.</summary>
    public QuantizationReport? Quantization { get; set; }

    /// <summary>Model selection: budget, every trial with its parameters, score and time, and the one chosen.</summary>
    public SearchReport? Search { get; set; }

    /// <summary>Champion/challenger: whether this version became current, and why.</summary>
    public PromotionReport? Promotion { get; set; }

    /// <summary>Files of the training report in the version folder (<c>report.md</c> and its plots).</summary>
    public List<string> Report { get; set; } = [];

    /// <summary>W3C trace id (32 hex digits) of the training run's trace: the upload's trace when the request carried one.</summary>
    public string? TraceId { get; set; }
}

/// <summary>The model search of a version.</summary>
public sealed class SearchReport
{
    public int MaxTrials { get; set; }

    public double MaxSeconds { get; set; }

    public int MaxEpochs { get; set; }

    public int Patience { get; set; }

    /// <summary>What ended the search: all trials, or the time budget.</summary>
    public string StoppedBy { get; set; } = "";

    /// <summary>
    /// Whether the time budget cut the search: trials left unrun, or a trial (or one of its folds) stopped by the clock before
    /// its own end. Such a trial counts with its best epoch or round so far; a cross-validated one cannot be chosen.
    /// </summary>
    public bool CutByTimeBudget { get; set; }

    /// <summary>The criterion trials are ranked by: lowest validation loss (cross-entropy or MSE on the standardized target).</summary>
    public string SelectedBy { get; set; } = "";

    /// <summary>Validation metric reported per trial: <c>accuracy</c> or <c>r2</c>.</summary>
    public string Metric { get; set; } = "";

    /// <summary>Index of the chosen trial in <see cref="Trials"/>.</summary>
    public int Selected { get; set; }

    /// <summary>
    /// Cross-validated searches: the trial with the lowest mean fold loss when the ridge / logistic regression on
    /// standardized inputs was chosen over it because it did not beat that by more than the standard error of their
    /// per-fold differences; null otherwise.
    /// </summary>
    public int? LowestLoss { get; set; }

    public double Seconds { get; set; }

    /// <summary>Whether the served model was refit on train + validation after selection (then the manifest's validation metrics are in-sample; the trials' are not).</summary>
    public bool RefitOnValidation { get; set; }

    public double RefitSeconds { get; set; }

    /// <summary>Folds of the cross-validation that ranked the trials (small tables); null: ranked on the validation split.</summary>
    public int? CrossValidationFolds { get; set; }

    public List<SearchTrial> Trials { get; set; } = [];

    /// <summary>The chosen configuration re-trained with other seeds and averaged; null when disabled or cut by the time budget.</summary>
    public EnsembleReport? Ensemble { get; set; }
}

/// <summary>An average of the chosen configuration trained with several seeds, served as one wider MLP when it validates better.</summary>
public sealed class EnsembleReport
{
    public int Members { get; set; }

    public double ValidationLoss { get; set; }

    public double ValidationMetric { get; set; }

    /// <summary>Whether the ensemble is the served model (lower validation loss than the chosen trial alone).</summary>
    public bool Used { get; set; }
}

public sealed class SearchTrial
{
    public int Index { get; set; }

    /// <summary>The model family (<c>linear</c>, <c>mlp</c>, <c>gbdt</c> or <c>rf</c> in JSON).</summary>
    public ModelFamily Kind { get; set; }

    /// <summary>The trial's configuration in words (all of a tree trial's settings; the network fields below are unused for trees).</summary>
    public string? Description { get; set; }

    /// <summary>How inputs were encoded before the network, e.g. <c>piecewise-linear, 8 quantile bins</c>; null: standardized values only.</summary>
    public string? InputEncoding { get; set; }

    public List<int> HiddenLayers { get; set; } = [];

    public double LearningRate { get; set; }

    public double WeightDecay { get; set; }

    public double Dropout { get; set; }

    public int BatchSize { get; set; }

    public int Epochs { get; set; }

    public int BestEpoch { get; set; }

    public double ValidationLoss { get; set; }

    public double ValidationMetric { get; set; }

    public double Seconds { get; set; }

    public string StopReason { get; set; } = "";

    /// <summary>A re-run of the chosen configuration with another seed, for the ensemble.</summary>
    public bool EnsembleMember { get; set; }

    /// <summary>Cross-validated search: each fold's best validation loss (<see cref="ValidationLoss"/> is their mean).</summary>
    public List<double>? FoldValidationLosses { get; set; }
}

/// <summary>Champion/challenger decision for a version.</summary>
public sealed class PromotionReport
{
    public bool Promoted { get; set; }

    public string Reason { get; set; } = "";

    /// <summary>Set by <c>dataset.json</c> or the training request.</summary>
    public bool Forced { get; set; }

    /// <summary><c>accuracy</c> or <c>r2</c>, on this version's test split, of each model's served artifact.</summary>
    public string Metric { get; set; } = "";

    public double Tolerance { get; set; }

    public double Challenger { get; set; }

    /// <summary>The version that was current when this one was trained, if any.</summary>
    public string? ChampionVersion { get; set; }

    public double? Champion { get; set; }
}

/// <summary>What the quantization gate measured and decided for a model version.</summary>
public sealed class QuantizationReport
{
    /// <summary>The gate's policy, e.g. <c>FastestWithinQuality</c>.</summary>
    public string Policy { get; set; } = "";

    /// <summary>Name of the served candidate (<c>fp32</c>, <c>int8-static</c>, <c>int8-dynamic</c>).</summary>
    public string Served { get; set; } = "";

    /// <summary>Why that candidate is served, with the numbers that decided it.</summary>
    public string Reason { get; set; } = "";

    /// <summary>The quality metric compared: <c>accuracy</c> or <c>r2</c>, on the test split.</summary>
    public string QualityMetric { get; set; } = "";

    /// <summary>Largest tolerated quality loss relative to fp32 (0.01 = 1%).</summary>
    public double MaxRelativeQualityLoss { get; set; }

    /// <summary>Every candidate, fp32 first; every built artifact is kept in the version folder.</summary>
    public List<ArtifactCandidate> Candidates { get; set; } = [];
}

/// <summary>One artifact of a model version and what was measured of it (ONNX Runtime, 1 intra-op thread, like the predict function).</summary>
public sealed class ArtifactCandidate
{
    public string Name { get; set; } = "";

    /// <summary>File in the version folder; null when the candidate could not be built.</summary>
    public string? Artifact { get; set; }

    /// <summary>How it was made, e.g. the quantization scheme and calibration.</summary>
    public string Description { get; set; } = "";

    public long? Bytes { get; set; }

    /// <summary>The <see cref="QuantizationReport.QualityMetric"/> on the test split.</summary>
    public double? Quality { get; set; }

    public Dictionary<string, double>? TestMetrics { get; set; }

    /// <summary>Classification: share of test rows whose predicted class equals fp32's.</summary>
    public double? Agreement { get; set; }

    /// <summary>Largest absolute difference from fp32's outputs (probabilities or values) on the test split.</summary>
    public double? MaxAbsDifference { get; set; }

    /// <summary>Median latency of one <c>Run</c> with 1 row, after warm-up.</summary>
    public double? LatencyBatch1Microseconds { get; set; }

    /// <summary>Median latency of one <c>Run</c> with 64 rows, after warm-up.</summary>
    public double? LatencyBatch64Microseconds { get; set; }

    /// <summary>The gate's verdict on this candidate.</summary>
    public string Verdict { get; set; } = "";

    /// <summary>Why the candidate could not be built or measured, if it could not.</summary>
    public string? Error { get; set; }
}

public sealed class TrainingSummary
{
    public string Device { get; set; } = "";

    /// <summary>The served model's family (<c>linear</c>, <c>mlp</c>, <c>gbdt</c> or <c>rf</c> in JSON); null when unknown.</summary>
    public ModelFamily? Family { get; set; }

    /// <summary>The served model's configuration in words, e.g. <c>gbdt 31 leaves, lr 0.05, …</c>.</summary>
    public string? Model { get; set; }

    /// <summary>Trees in the served model (gradient-boosted trees only).</summary>
    public int? Trees { get; set; }

    public List<int> HiddenLayers { get; set; } = [];

    public int Epochs { get; set; }

    public int BestEpoch { get; set; }

    public int BatchSize { get; set; }

    public double LearningRate { get; set; }

    public int Seed { get; set; }

    public double WeightDecay { get; set; }

    public double Dropout { get; set; }

    /// <summary>Input encoding in front of the network (see <see cref="SearchTrial.InputEncoding"/>); the exported graph has it as its first Gemm + Relu.</summary>
    public string? InputEncoding { get; set; }

    /// <summary>Networks averaged in the served model (1 = a single network; see <see cref="SearchReport.Ensemble"/>).</summary>
    public int EnsembleSize { get; set; } = 1;

    /// <summary>Seconds of the whole search (all trials, across attempts).</summary>
    public double Seconds { get; set; }

    /// <summary>Seconds on a CUDA device (0 on CPU) and their estimated cost at the configured price per GPU-second.</summary>
    public double GpuSeconds { get; set; }

    public double GpuPricePerSecond { get; set; }

    public double EstimatedCost { get; set; }

    public string? RunId { get; set; }

    /// <summary>Attempts it took (more than 1 when a checkpoint was resumed).</summary>
    public int Attempts { get; set; } = 1;

    /// <summary>Largest absolute difference between TorchSharp and ONNX Runtime outputs on the test split.</summary>
    public double OnnxMaxAbsDiff { get; set; }
}

/// <summary><c>models/{model}/current.json</c>: the served version. Only ever replaced with If-Match.</summary>
public sealed class CurrentPointer
{
    public string Version { get; set; } = "";

    public DateTimeOffset UpdatedAt { get; set; }
}
